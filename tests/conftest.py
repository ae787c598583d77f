pytest_plugins = [
    "tests.plugins.browser",
    "tests.plugins.tiktok_sandbox",
]

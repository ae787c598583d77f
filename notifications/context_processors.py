def notifications(request) -> dict:
    return {}

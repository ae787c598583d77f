"""English date formats of the dashboard (FORMAT_MODULE_PATH): 24-hour times and ISO dates, as
the dashboard always wrote them. The other languages use Django's own formats for their locale
("7. Dezember 2026 14:30", "07/12/2026 14:30"); templates name the format
(`|date:"SHORT_DATETIME_FORMAT"`), never a fixed pattern, so each language writes dates its way.
"""

DATETIME_FORMAT = "N j, Y, H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"

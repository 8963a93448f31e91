"""Dates as the admin shows them: ISO 8601 and 24-hour (UTC, as ``TIME_ZONE`` says), short
enough for the lists to fit, and unambiguous for operators anywhere."""

DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"

"""The app's date formats, declared once. Templates write ``{{ d|date:"SHORT_DATE_FORMAT" }}``
and ``{{ t|date:"SHORT_DATETIME_FORMAT" }}``, Python ``formats.date_format(d, ...)``; never a
format string of their own. Names not set here keep Django's ``en_GB`` values."""

SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"

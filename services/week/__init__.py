"""The weekly exchange: the calendar, links handed in, to-do lists, results, the record."""

"""The energy manager's month: completeness review, gap filling, approve/lock, revisions, filing workbook, deadlines."""

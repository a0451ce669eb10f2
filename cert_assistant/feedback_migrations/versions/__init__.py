"""The revisions, oldest first: 0001 and 0002 are the layouts the sqlite3 store wrote."""

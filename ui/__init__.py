"""The Streamlit pages (`chat.py`, `staff.py`) that `app.py` wires together, and what they share."""

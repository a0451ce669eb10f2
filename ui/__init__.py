"""The Streamlit apps and what they share: the learner's chat (`chat.py`, run by `app.py`) and
the staff dashboard (`staff.py`, behind the sign-in of `staff_app.py`, its own app)."""

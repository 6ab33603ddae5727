"""The identity-vigilance officers' web pages, their charts and templates."""

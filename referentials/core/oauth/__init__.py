"""OAuth 2 client credentials with private_key_jwt (RFC 7523, SMART Backend Services)."""

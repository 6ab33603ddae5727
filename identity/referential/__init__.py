"""Identities and their traits: the RNIV model and rules, history and the event feed."""

"""Pro Santé Connect sign-in for the pages, checked against the RPPS+ directory, and roles."""

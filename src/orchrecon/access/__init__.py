"""Who may do what through the API: token scopes, decided without I/O."""

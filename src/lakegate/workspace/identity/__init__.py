"""Who calls: service principals, users, OAuth (OIDC, tokens), SCIM and the account API."""

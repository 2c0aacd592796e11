"""Identity and access: service principals, users, OAuth (OIDC, tokens), SCIM, object permissions
and the account API."""

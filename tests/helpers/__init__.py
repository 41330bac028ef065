"""Helpers the test modules share; fixtures live in tests/conftest.py.

- `http`: the API prefix, problem codes, following pages, base64url JSON.
- `identity`: signing up, logging in, adding users, platform admins, their headers.
- `api_keys`: issuing integration keys and the headers a key calls with.
- `audit`: reading a tenant's audit trail.
- `database`: test settings, databases, and SQL as the owner or a superuser.
- `documents`: PDF and image bytes, uploading them, the document processor.
- `invoices`, `assets`: creating and moving the rows most of their tests need.
- `catalog`: the catalog check of the tenancy invariants.
"""

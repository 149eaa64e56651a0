"""The community's people: members, chat accounts, invites, admins, Instagram identities."""

"""A password "validator" that validates nothing: Django calls `password_changed` after every save of a new
password, wherever it was set (the account page, the admin, `manage.py changepassword`, a reset), which makes it
the one place that sees them all. There it revokes the user's API keys."""


class RevokeApiKeysOnPasswordChange:
    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        if user is not None and user.pk is not None:
            from accounts.services import api_keys_revoke_all  # settings load this module before the apps

            api_keys_revoke_all(user=user)

    def get_help_text(self):
        return ""

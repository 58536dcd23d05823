"""The login forms: a username is checked before anyone authenticates with it.

Django's AuthenticationForm sets the username's max_length after the field is built, so no length
validator runs, and the failed-login records (django-axes) would then try to store whatever was typed.
"""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator

from annotation.storable import StorableTextValidator


class CheckedUsername:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators += [MaxLengthValidator(field.max_length), StorableTextValidator()]


class LoginForm(CheckedUsername, AuthenticationForm):
    pass


class AdminLoginForm(CheckedUsername, AdminAuthenticationForm):
    pass

"""Sign-up form: username, display name, email and password (Django's password validators apply)."""

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User


class SignupForm(UserCreationForm):
    name = forms.CharField(max_length=150, required=False, label="Display name")
    email = forms.EmailField(required=False)

    class Meta:
        model = User
        fields = ("username", "name", "email")

    def clean_email(self):
        email = self.cleaned_data.get("email") or None
        if email and User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email

    def save(self, commit=True):  # the view creates the user through the service instead
        raise NotImplementedError("use accounts.services.user_create")

"""Account forms: sign-up (Django's password validators apply) and a new API key."""

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.db.models import Q
from django.utils import timezone

from accounts.models import User

TAKEN = "That username or email cannot be used. Choose another."


class SignupForm(UserCreationForm):
    """A taken username and a taken email give one neutral answer, so the form cannot be used to learn which
    accounts or addresses exist (sign-ups are throttled per address besides)."""

    name = forms.CharField(max_length=150, required=False, label="Display name")
    email = forms.EmailField(required=False)

    class Meta:
        model = User
        fields = ("username", "name", "email")

    def clean_username(self):
        return self.cleaned_data.get("username")  # Django's own check would say "that username exists"

    def clean_email(self):
        return self.cleaned_data.get("email") or None

    def clean(self):
        cleaned = super().clean()
        taken = Q(pk__in=[])
        if cleaned.get("username"):
            taken |= Q(username__iexact=cleaned["username"])
        if cleaned.get("email"):
            taken |= Q(email__iexact=cleaned["email"])
        if User.objects.filter(taken).exists():
            raise forms.ValidationError(TAKEN)
        return cleaned

    def validate_unique(self):
        pass  # checked in clean(), with one answer for both fields

    def save(self, commit=True):  # the view creates the user through the service instead
        raise NotImplementedError("use accounts.services.user_create")


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text='What the key is for, e.g. "Krita plug-in".')
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The key stops working at the start of that day (UTC).",
    )

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is not None and day <= timezone.now().date():
            raise forms.ValidationError("Pick a day after today.")
        return day

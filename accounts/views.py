"""Sign up, sign in, sign out; the account page (API keys, password)."""

from datetime import UTC, datetime, time

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import ApiKeyCreateForm, SignupForm
from accounts.selectors import api_key_list_for_user
from accounts.services import api_key_create, api_key_revoke, user_create
from accounts.throttles import SignInIPThrottle, SignInUsernameThrottle, SignUpIPThrottle, throttle_refusal


def _too_many(request, template: str, form, wait_s: int):
    form.add_error(None, f"Too many attempts. Try again in {wait_s} seconds.")
    response = render(request, template, {"form": form}, status=429)
    response["Retry-After"] = str(wait_s)
    return response


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("generation:create")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        wait_s = throttle_refusal(request, [SignUpIPThrottle])
        if wait_s is not None:
            return _too_many(request, "accounts/signup.html", form, wait_s)
        if form.is_valid():
            data = form.cleaned_data
            user = user_create(
                username=data["username"], password=data["password1"], email=data["email"], name=data["name"]
            )
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.display_name}! Describe an image to get started.")
            return redirect("generation:create")
    return render(request, "accounts/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait_s = throttle_refusal(request, [SignInIPThrottle, SignInUsernameThrottle])
        if wait_s is not None:
            return _too_many(request, self.template_name, self.get_form(), wait_s)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    """Changing the password signs out other sessions (Django) and revokes every API key (accounts.passwords)."""

    template_name = "accounts/password_change.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("accounts:account")

    def form_valid(self, form):
        response = super().form_valid(form)
        update_session_auth_hash(self.request, form.user)
        messages.success(self.request, "Password changed. Your API keys were revoked; make new ones below.")
        return response


@login_required
@require_http_methods(["GET", "POST"])
def account(request):
    """The account page: the user's API keys; a new key is shown here once, in the response that made it."""
    form = ApiKeyCreateForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        day = form.cleaned_data["expires_on"]
        expires_at = datetime.combine(day, time.min, tzinfo=UTC) if day else None
        key, new_key = api_key_create(user=request.user, name=form.cleaned_data["name"], expires_at=expires_at)
        form = ApiKeyCreateForm()
    context = {"form": form, "keys": api_key_list_for_user(user=request.user), "new_key": new_key}
    return render(request, "accounts/account.html", context)


@login_required
@require_POST
def api_key_revoke_view(request, key_id: int):
    key = api_key_list_for_user(user=request.user).filter(pk=key_id).first()
    if key is None:
        raise Http404("No such key.")
    api_key_revoke(key=key)
    messages.success(request, f"Revoked {key.name}.")
    return redirect("accounts:account")

from django.urls import path

from accounts import apis, views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", views.account, name="account"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("keys/<int:key_id>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
]

api_urlpatterns = [
    path("token/", apis.TokenObtainApi.as_view(), name="token"),
    path("me/", apis.MeApi.as_view(), name="me"),
]

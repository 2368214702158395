from django.urls import path

from accounts import apis, views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]

api_urlpatterns = [
    path("token/", apis.TokenObtainApi.as_view(), name="token"),
    path("me/", apis.MeApi.as_view(), name="me"),
]

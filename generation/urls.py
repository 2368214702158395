from django.urls import path

from generation import apis, views

urlpatterns = [
    path("", views.create, name="create"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("images/", views.my_images, name="my_images"),
    path("explore/", views.public_gallery, name="public_gallery"),
    path("images/<int:image_id>/", views.image_detail, name="image_detail"),
    path("images/<int:image_id>/rerun/", views.image_rerun, name="image_rerun"),
    path("images/<int:image_id>/vary/", views.image_vary, name="image_vary"),
    path("images/<int:image_id>/visibility/", views.image_visibility, name="image_visibility"),
    path("images/<int:image_id>/delete/", views.image_delete, name="image_delete"),
]

api_urlpatterns = [
    path("jobs/", apis.JobListCreateApi.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", apis.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/cancel/", apis.JobCancelApi.as_view(), name="job-cancel"),
    path("images/", apis.ImageListApi.as_view(), name="image-list"),
    path("images/<int:image_id>/", apis.ImageDetailApi.as_view(), name="image-detail"),
    path("images/<int:image_id>/file/", apis.ImageFileApi.as_view(), name="image-file"),
    path("images/<int:image_id>/attention/", apis.ImageAttentionApi.as_view(), name="image-attention"),
]

from django.urls import path

from compat import a1111_api, openai_api

openai_urlpatterns = [
    path("images/generations", openai_api.ImageGenerationApi.as_view(), name="openai-images-generations"),
    path("images/files/<str:token>", openai_api.SignedImageFileApi.as_view(), name="openai-image-file"),
    path("models", openai_api.ModelListApi.as_view(), name="openai-models"),
    path("models/<str:model_id>", openai_api.ModelDetailApi.as_view(), name="openai-model"),
]

a1111_urlpatterns = [
    path("txt2img", a1111_api.Txt2ImgApi.as_view(), name="a1111-txt2img"),
    path("progress", a1111_api.ProgressApi.as_view(), name="a1111-progress"),
    path("interrupt", a1111_api.InterruptApi.as_view(), name="a1111-interrupt"),
    path("sd-models", a1111_api.SdModelsApi.as_view(), name="a1111-sd-models"),
    path("samplers", a1111_api.SamplersApi.as_view(), name="a1111-samplers"),
    path("schedulers", a1111_api.SchedulersApi.as_view(), name="a1111-schedulers"),
    path("scripts", a1111_api.ScriptsApi.as_view(), name="a1111-scripts"),
    path("options", a1111_api.OptionsApi.as_view(), name="a1111-options"),
    path("png-info", a1111_api.PngInfoApi.as_view(), name="a1111-png-info"),
]

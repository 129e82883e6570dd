from django.urls import path

from . import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("datasets/<int:pk>/", views.dataset_detail, name="detail"),
    path("images/<int:pk>/thumbnail/", views.image_thumbnail, name="image_thumbnail"),
    path("images/<int:pk>/file/", views.image_file, name="image_file"),
]

from django.urls import path

from . import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("datasets/new/", views.dataset_create, name="create"),
    path("datasets/<int:pk>/", views.dataset_detail, name="detail"),
    path("datasets/<int:pk>/rename/", views.dataset_rename, name="rename"),
    path("datasets/<int:pk>/delete/", views.dataset_delete, name="delete"),
    path("datasets/<int:pk>/images/upload/", views.images_upload, name="images_upload"),
    path("images/<int:pk>/thumbnail/", views.image_thumbnail, name="image_thumbnail"),
    path("images/<int:pk>/file/", views.image_file, name="image_file"),
]

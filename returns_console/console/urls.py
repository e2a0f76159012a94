from django.urls import path

from returns_console.console import api

urlpatterns = [
    path("api/proposals", api.list_proposals, name="console-proposals"),
    path("api/proposals/<int:proposal_id>", api.get_proposal, name="console-proposal"),
    path("api/proposals/<int:proposal_id>/approve", api.approve, name="console-approve"),
    path("api/proposals/<int:proposal_id>/edit", api.edit, name="console-edit"),
    path("api/proposals/<int:proposal_id>/reject", api.reject, name="console-reject"),
    path("api/proposals/<int:proposal_id>/retry", api.retry, name="console-retry"),
    path("api/returns/<str:return_id>", api.get_return, name="console-return"),
]

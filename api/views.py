"""/api/openapi.json, and Braze's JSON 404 for every other path under /api/."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.views.decorators.csrf import csrf_exempt

from api.openapi import openapi_document
from api.rest import rest_response


@csrf_exempt
@login_not_required
def openapi_json(request):
    if request.method not in ("GET", "HEAD"):
        response = rest_response(
            {"message": "Method Not Allowed: use GET", "errors": []}, status=405
        )
        response["Allow"] = "GET, HEAD"
        return response
    return rest_response(openapi_document(base_url=request.build_absolute_uri("/api")))


@csrf_exempt
@login_not_required
def not_found(request, path=""):
    return rest_response({"message": "Not Found", "errors": []}, status=404)

"""Creating people, shared by the CLI and the admin."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from civicloop.accounts.models import User
from civicloop.organizations.models import Organization


class AccountError(ValueError):
    """The account cannot be created as asked; the message says why and how to fix it."""


@transaction.atomic
def create_person(
    email: str,
    full_name: str,
    password: str,
    organization_slug: str = "",
    job_title: str = "",
    superuser: bool = False,
) -> User:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise AccountError(f"email: {email!r} is not a valid email address.") from None
    if not full_name.strip():
        raise AccountError("name: a full name is required, e.g. --name 'Amara Okafor'.")
    if User.objects.filter(email__iexact=email).exists():
        raise AccountError(f"email: someone already signs in as {email}.")
    organization = None
    if organization_slug:
        organization = Organization.objects.filter(slug=organization_slug).first()
        if organization is None:
            known = ", ".join(Organization.objects.values_list("slug", flat=True)) or "none yet"
            raise AccountError(
                f"organization: no organization {organization_slug!r}. Known: {known}."
            )
    candidate = User(email=email, full_name=full_name.strip(), job_title=job_title)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise AccountError("password: " + " ".join(error.messages)) from None
    create = User.objects.create_superuser if superuser else User.objects.create_user
    return create(
        email=email,
        password=password,
        full_name=full_name.strip(),
        job_title=job_title,
        organization=organization,
    )

"""Operations on teams and organizations. Views call these; rules stay out of views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from civicloop.organizations.models import Membership, Role, Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


class MembershipError(ValueError):
    """A membership change that would leave the team in a bad state."""


@transaction.atomic
def add_member(team: Team, person: User, role: Role) -> Membership:
    membership, created = Membership.objects.get_or_create(
        team=team, person=person, defaults={"role": role}
    )
    if not created:
        raise MembershipError(f"{person} is already in {team} as {membership.get_role_display()}.")
    return membership


@transaction.atomic
def change_role(membership: Membership, role: Role) -> Membership:
    _refuse_if_last_lead(membership, leaving=role != Role.LEAD)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    _refuse_if_last_lead(membership, leaving=True)
    membership.delete()


def _refuse_if_last_lead(membership: Membership, leaving: bool) -> None:
    """A team without a lead has nobody who can manage it, so the last lead cannot step away."""
    if not leaving or membership.role != Role.LEAD:
        return
    leads = Membership.objects.select_for_update().filter(team=membership.team, role=Role.LEAD)
    if leads.count() <= 1:
        raise MembershipError(
            f"{membership.person} is the only lead of {membership.team}. "
            "Make someone else a lead first."
        )

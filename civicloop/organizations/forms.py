from __future__ import annotations

from typing import Any

from django import forms

from civicloop.accounts.models import User
from civicloop.organizations.models import Organization, Role, Team


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("purpose", "customer_voice")
        widgets = {
            "purpose": forms.Textarea(attrs={"rows": 3}),
            "customer_voice": forms.Textarea(attrs={"rows": 4}),
        }


class OrganizationForm(forms.ModelForm):
    website = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Organization
        fields = ("description", "website")
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}


class AddMemberForm(forms.Form):
    email = forms.EmailField(
        label="Email address of the person to add",
        help_text="They must already have a civicloop account.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.person: User | None = None

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        person = User.objects.filter(email__iexact=email, is_active=True).first()
        if person is None:
            raise forms.ValidationError(
                "Nobody with this email address has an account. Check the spelling, or ask an "
                "administrator to create the account first (civicloop createuser)."
            )
        if self.team.memberships.filter(person=person).exists():
            raise forms.ValidationError(f"{person} is already in this team.")
        self.person = person
        return email


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)

"""The building blocks of a controller's profile: texts in Finnish with optional Swedish and English, and the
strictness every part of the profile is validated with."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from app.models.base import WHITE_SPACE

NON_BLANK = f"^[^\\x00]*[^{WHITE_SPACE}\\x00][^\\x00]*$"
NO_NUL = r"^[^\x00]*$"
Text200 = Annotated[str, Field(min_length=1, max_length=200, pattern=NON_BLANK)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LocalText(Strict):
    """A text in Finnish, with optional Swedish and English versions."""

    fi: str = Field(min_length=1, max_length=5000, pattern=NON_BLANK)
    sv: str | None = Field(default=None, max_length=5000, pattern=NO_NUL)
    en: str | None = Field(default=None, max_length=5000, pattern=NO_NUL)

    def get(self, lang: str) -> str:
        """The text in `lang`, falling back to Finnish."""
        value = getattr(self, lang, None)
        return value if isinstance(value, str) and value else self.fi


def _local(value: object) -> object:
    # A plain string in the file is the Finnish text.
    return {"fi": value} if isinstance(value, str) else value


TEXT_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 5000, "pattern": NON_BLANK}
_OPTIONALTEXT_SCHEMA = {"anyOf": [{"type": "string", "maxLength": 5000, "pattern": NO_NUL}, {"type": "null"}]}
# As JSON: a string (the Finnish text) or {"fi": ..., "sv": ..., "en": ...}.
Local = Annotated[
    LocalText,
    BeforeValidator(_local),
    WithJsonSchema(
        {
            "anyOf": [
                TEXT_SCHEMA,
                {
                    "type": "object",
                    "properties": {"fi": TEXT_SCHEMA, "sv": _OPTIONALTEXT_SCHEMA, "en": _OPTIONALTEXT_SCHEMA},
                    "required": ["fi"],
                    "additionalProperties": False,
                },
            ],
            "description": "A text in Finnish (a string), or in Finnish with optional Swedish and English.",
        }
    ),
]

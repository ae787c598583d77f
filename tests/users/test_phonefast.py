"""users.phonefast must agree with phonenumbers on every input it answers."""

import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from users import phonefast

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = [
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.VOIP,
    PhoneNumberType.UAN,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.VOICEMAIL,
]


def reference(number: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def sample_inputs(seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    inputs = []
    for region in REGIONS:
        for kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            national = "".join(c for c in national if c.isdigit())
            inputs += [(e164, rng.choice(REGIONS)), (national, region)]
            # One digit changed, one dropped, one added: valid and invalid neighbours.
            digits = list(e164[1:])
            digits[rng.randrange(len(digits))] = str(rng.randrange(10))
            inputs.append(("+" + "".join(digits), region))
            inputs.append((national[:-1], region))
            inputs.append((national + str(rng.randrange(10)), region))
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for _ in range(10):
            tail = "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 14)))
            inputs.append((f"+{code}{tail}", rng.choice(REGIONS)))
    for _ in range(3000):
        tail = "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 17)))
        inputs.append((rng.choice(["", "+", "00", "011", "0", "1"]) + tail, rng.choice(REGIONS)))
    return inputs


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_matches_phonenumbers(seed):
    answered = 0
    for number, region in sample_inputs(seed):
        fast = phonefast.valid_e164(number, region)
        if fast is phonefast.UNSURE:
            continue
        answered += 1
        assert fast == reference(number, region), (number, region)
    # The point is speed: it must answer most plain inputs itself.
    assert answered > 0.8 * len(sample_inputs(seed))


@pytest.mark.parametrize(
    "number", ["+1 650", "(650)", "+1-650-253-0000", "٦٥٠٢٥٣٠٠٠٠", "+12", "tel:+1"]
)
def test_anything_but_plain_digits_is_left_to_phonenumbers(number):
    assert phonefast.valid_e164(number, "US") is phonefast.UNSURE

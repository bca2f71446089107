"""Brand guides modelled on public style guides, as BrandGuide messages.

Paraphrased from the Mailchimp content style guide, the GOV.UK style guide,
Shopify Polaris content guidelines, the Microsoft Writing Style Guide (as
encoded in Vale's Microsoft package) and Atlassian's voice and tone page.
They are realistic fixtures, not copies of those guides.
"""

from __future__ import annotations

from byok.generation.v1 import brand_pb2 as pb

ERROR = pb.SEVERITY_ERROR
WARNING = pb.SEVERITY_WARNING


def _voice(descriptors: list[str], *pairs: tuple[str, str]) -> pb.Voice:
    voice = pb.Voice(descriptors=descriptors)
    for is_, is_not in pairs:
        pair = voice.pairs.add()
        setattr(pair, "is", is_)
        pair.is_not = is_not
    return voice


def _banned(
    *terms: str,
    hint: str = "",
    severity: pb.Severity.ValueType = pb.SEVERITY_UNSPECIFIED,
    exact: bool = False,
) -> list[pb.BannedTerm]:
    return [
        pb.BannedTerm(term=t, hint=hint, severity=severity, exact=exact) for t in terms
    ]


def mailchimp() -> pb.BrandGuide:
    """Plainspoken, genuine, dry humour; fluffy corporate words banned."""
    return pb.BrandGuide(
        name="mailchimp_test",
        version="2024-05",
        voice=_voice(
            ["human", "familiar", "friendly", "straightforward", "plainspoken"],
            ("fun", "childish"),
            ("clever", "silly"),
            ("confident", "cocky"),
            ("smart", "stodgy"),
            ("informal", "sloppy"),
            ("helpful", "overbearing"),
            ("expert", "bossy"),
        ),
        banned_terms=[
            *_banned("automagical", hint="Say what it does."),
            *_banned(
                "funnel", "incentivize", "leverage", "disruption", "thought leader",
                hint="Fluffy corporate term: say what you mean.",
            ),
            *_banned("internets", "interwebs", exact=True),
            *_banned("ninja", "rockstar", "wizard", hint="Unless literal."),
            *_banned("crushing it", "killing it"),
            *_banned("crazy", "lame", "sufferer", "victim", "handicapped"),
            *_banned("Mailchimp®", "Mailchimp™", hint="No marks on our name."),
        ],
        preferred_terms=[
            pb.PreferredTerm(use="email", instead_of=["e-mail", "Email"]),
            pb.PreferredTerm(use="website", instead_of=["web site", "Website"]),
            pb.PreferredTerm(use="internet", instead_of=["Internet"]),
        ],
        product_names=[pb.ProductName(canonical="Mailchimp")],
        emoji=pb.Policy(max_count=1),
        exclamation=pb.Policy(max_consecutive=1),
        max_hashtags=2,
        platform_overrides=[
            pb.PlatformOverride(platform="instagram", emoji=pb.Policy(max_count=2)),
        ],
        consistent_terms=[pb.ConsistentTerm(variants=["signup", "sign-up"])],
        serial_comma=pb.SERIAL_COMMA_REQUIRED,
        repetition=pb.RepetitionPolicy(max_word_uses=3, ignore=["email"]),
        approved_claims=["Send up to 1,000 emails a month on the Free plan"],
    )  # fmt: skip


def govuk() -> pb.BrandGuide:
    """Plain English for a reading age of 9 (about US grade 4)."""
    hints = {
        "agenda": "Use plan, unless it is a meeting agenda.",
        "collaborate": "Use work with.",
        "combat": "Use solve, unless it is military.",
        "deliver": "Only for pizzas, post and services.",
        "deploy": "Only for the military or software.",
        "dialogue": "Use speak to or talk with.",
        "empower": "Say what you are doing.",
        "facilitate": "Say how you are helping.",
        "foster": "Only for children.",
        "impact": "Do not use as a verb: use affect.",
        "initiate": "Use start.",
        "key": "Use important, unless it unlocks something.",
        "land": "Only for aircraft.",
        "leverage": "Only in the financial sense.",
        "liaise": "Use work with or talk to.",
        "overarching": "Say what you mean.",
        "promote": "Only for marketing promotions.",
        "robust": "Say what you mean.",
        "streamline": "Say what you are changing.",
        "utilise": "Use use.",
        "going forward": "Say when.",
        "drive out": "Say what you are removing.",
    }
    banned = [pb.BannedTerm(term=t, hint=h) for t, h in hints.items()]
    banned += _banned(
        "advancing", "focusing", "tackling", "transforming", "slimming down",
        hint="Say what you are doing.", exact=True,
    )  # fmt: skip
    return pb.BrandGuide(
        name="govuk_test",
        voice=_voice(["plain", "direct", "specific", "neutral", "helpful"]),
        banned_terms=banned,
        preferred_terms=[
            pb.PreferredTerm(use="do not", instead_of=["don't"], exact=True),
            pb.PreferredTerm(use="cannot", instead_of=["can't"], exact=True),
            pb.PreferredTerm(use="will not", instead_of=["won't"], exact=True),
        ],
        exclamation=pb.Policy(forbidden=True),
        max_sentence_words=25,
        reading_grade_max=4.0,
        # Abbreviations: spell out on first use unless very well known.
        acronyms=pb.AcronymPolicy(
            require_definition=True,
            well_known=["UK", "EU", "VAT", "NHS", "HM", "MOT"],
            definitions=[
                pb.AcronymDefinition(
                    acronym="DWP", expansion="Department for Work and Pensions"
                ),
                pb.AcronymDefinition(
                    acronym="HMRC", expansion="HM Revenue and Customs"
                ),
            ],
        ),
    )


def polaris() -> pb.BrandGuide:
    """Shopify Polaris-like merchant copy: real, proactive, no overpromising."""
    return pb.BrandGuide(
        name="polaris_test",
        voice=_voice(
            ["real", "proactive", "dynamic", "guide"],
            ("real", "too tough or overly familiar"),
            ("proactive", "needy or pushy"),
            ("dynamic", "scattered or impulsive"),
            ("guide", "handhold or prescribe"),
        ),
        banned_terms=[
            *_banned("every", "all", "most", severity=WARNING, exact=True,
                     hint="Avoid over-generalised success claims."),
            *_banned("double your sales", "guaranteed", "you're just a few steps away",
                     hint="Never promise an outcome."),
            *_banned("successfully", severity=WARNING, exact=True,
                     hint="Say what happened: Product added."),
            *_banned("fatal", "forbidden", "bad request", "invalid", "unresolved",
                     "expectation failed", hint="Too alarming for merchants."),
            *_banned("We did it", hint="Credit the merchant, not us."),
        ],
        product_names=[
            pb.ProductName(canonical="Shopify Payments"),
            pb.ProductName(canonical="Shopify"),
        ],
        reading_grade_max=7.0,
        approved_claims=[
            "Shopify checkout converts up to 36% better than other checkouts",
        ],
        conditions=[
            pb.Condition(if_term="free trial", then_term="no credit card required",
                         hint="Say what the trial asks of the merchant."),
        ],
    )  # fmt: skip


def microsoft() -> pb.BrandGuide:
    """Microsoft-style: brief, contractions required, no "we"."""
    wordiness = {
        "to": ["in order to"],
        "before": ["prior to"],
        "because": ["due to the fact that"],
        "many": ["a large number of"],
        "if": ["in the event that"],
        "whether": ["whether or not"],
        "drag": ["drag and drop"],
        "phone": ["smart phone", "mobile phone"],
        "chatbot": ["chat bot"],
        "adapter": ["adaptor"],
        "antivirus": ["anti-virus"],
        "every day": ["24/7"],
        "don't": ["do not"],
        "can't": ["cannot"],
        "it's": ["it is"],
    }
    return pb.BrandGuide(
        name="microsoft_test",
        voice=_voice(["simple", "human", "friendly", "conversational", "brief"]),
        banned_terms=[
            *_banned("and/or", "as well as", "and so on", "backbone",
                     "app developer", "application program"),
            *_banned("we", "we've", "we're", "our", "ours", "us", "let's",
                     severity=WARNING, exact=True, hint="Address the reader."),
        ],
        preferred_terms=[
            pb.PreferredTerm(use=use, instead_of=wrong, exact=True)
            for use, wrong in wordiness.items()
        ],
        rule_overrides=[
            # Contractions are required: under CUSTOM their absence blocks.
            pb.RuleOverride(rule_id="preferred.don-t", severity=ERROR),
            pb.RuleOverride(rule_id="preferred.can-t", severity=ERROR),
            pb.RuleOverride(rule_id="preferred.it-s", severity=ERROR),
            # The Oxford comma is required, not merely suggested.
            pb.RuleOverride(rule_id="serial_comma.*", severity=WARNING),
        ],
        consistent_terms=[pb.ConsistentTerm(variants=["email", "e-mail"])],
        serial_comma=pb.SERIAL_COMMA_REQUIRED,
    )  # fmt: skip


def atlassian() -> pb.BrandGuide:
    """Voice only: bold, optimistic, practical with a wink; product casing."""
    return pb.BrandGuide(
        name="atlassian_test",
        voice=_voice(
            ["bold", "optimistic", "practical"],
            ("bold", "reckless"),
            ("optimistic", "naive"),
            ("practical, with a wink", "jokey"),
        ),
        product_names=[
            pb.ProductName(canonical="Jira"),
            pb.ProductName(canonical="Confluence"),
        ],
    )

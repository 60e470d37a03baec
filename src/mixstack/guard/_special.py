"""Special-category facts tied to a person: health, medication, pregnancy, orientation, religion.

A term alone is not personal data: "what are the symptoms of diabetes?" names no one. A
finding needs the term and a person in the same sentence: a name the guard found, a
definite reference ("my wife", "the patient", "he"), or a first-person statement ("I was
diagnosed with …"). First-person words inside a question ("can I take ibuprofen with
metformin?") or a condition ("if I am pregnant") describe no one and do not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from mixstack.guard._pii import PiiSpan

__all__ = ["SPECIAL_TYPES", "is_special_term", "special_findings"]

_CONDITIONS = r"""
diabetes|diabetic|type [12] diabetes|cancer|carcinoma|leukaemia|leukemia|lymphoma|melanoma|
tumou?r|metastas[ie]s|hiv|aids|hepatitis [abc]?|hepatitis|tuberculosis|asthma|asthmatic|copd|
epilepsy|epileptic|seizures?|depression|depressed|major depressive disorder|anxiety disorder|
anxiety|panic attacks?|bipolar(?: disorder)?|schizophreni[ac]|psychosis|ptsd|ocd|adhd|autism|
autistic|asperger'?s|dementia|alzheimer'?s|parkinson'?s|multiple sclerosis|als|
motor neurone disease|
stroke|heart attack|heart failure|heart disease|arrhythmia|atrial fibrillation|hypertension|
high blood pressure|arthritis|lupus|crohn'?s(?: disease)?|ulcerative colitis|colitis|coeliac|celiac|
migraines?|obesity|anorexia|bulimia|eating disorder|addiction|alcoholism|alcoholic|
substance (?:use|abuse) disorder|opioid use disorder|overdosed?|suicidal|suicide attempt|self-harm|
self harm|covid(?:-19)?|long covid|pneumonia|chlamydia|syphilis|gonorrh?oea|herpes|an? std|an? sti|
hpv|infertil(?:e|ity)|endometriosis|pcos|hypothyroidism|hyperthyroidism|thyroid disease|
kidney disease|renal failure|on dialysis|cirrhosis|sickle cell|cystic fibrosis|hemophilia|
haemophilia|insomnia|sleep apnea|sleep apnoea|glaucoma|chronic pain|fibromyalgia|
chronic fatigue|mental illness|mental health (?:condition|issues?|problems?)|burnout|
learning disability|dyslexia|disabled|disability|wheelchair user|amputee|paralysed|paralyzed|
concussion|fractured? \w+|broken (?:leg|arm|wrist|ankle|hip)|allergic to \w+|allergy to \w+|
chemotherapy|chemo|radiotherapy|radiation therapy|dialysis|rehab|in remission|terminal(?:ly ill)?
"""
_MEDICATIONS = r"""
metformin|insulin|sertraline|zoloft|fluoxetine|prozac|escitalopram|lexapro|citalopram|celexa|
paroxetine|paxil|venlafaxine|effexor|duloxetine|cymbalta|bupropion|wellbutrin|mirtazapine|
lithium|quetiapine|seroquel|olanzapine|risperidone|aripiprazole|abilify|clozapine|lamotrigine|
valproate|depakote|carbamazepine|levetiracetam|keppra|adderall|ritalin|methylphenidate|
vyvanse|concerta|xanax|alprazolam|valium|diazepam|lorazepam|ativan|clonazepam|klonopin|
zolpidem|ambien|oxycodone|oxycontin|hydrocodone|vicodin|morphine|fentanyl|methadone|
buprenorphine|suboxone|naloxone|naltrexone|tramadol|codeine|gabapentin|pregabalin|lyrica|
lisinopril|ramipril|amlodipine|losartan|atorvastatin|lipitor|simvastatin|rosuvastatin|
metoprolol|bisoprolol|propranolol|warfarin|apixaban|eliquis|rivaroxaban|xarelto|clopidogrel|
levothyroxine|synthroid|prednisone|prednisolone|ozempic|semaglutide|wegovy|mounjaro|
tirzepatide|truvada|descovy|antiretrovirals?|methotrexate|humira|adalimumab|
albuterol|salbutamol|ventolin|inhaler|epipen|omeprazole|antidepressants?|antipsychotics?|
anti-anxiety medication|birth control(?: pills?)?|the pill|contraceptives?|viagra|sildenafil|
cialis|finasteride|isotretinoin|accutane|tamoxifen|herceptin|hormone therapy|hrt|
testosterone(?: injections?)?|estrogen|oestrogen|spironolactone|blood thinners?|statins?|
beta blockers?|chemo drugs?|steroids
"""
_PREGNANCY = r"""
pregnant|pregnancy|expecting a baby|expecting twins|trimester|weeks along|
gestational|prenatal|antenatal|maternity leave|miscarriage|miscarried|ivf|morning sickness|
due to give birth|gave birth|baby is due|c-section|postpartum|post-natal|postnatal
"""
_ORIENTATION = r"""
gay|lesbian|bisexual|homosexual|queer|asexual|pansexual|same-sex (?:partner|spouse|couple|
relationship)|came out|coming out|lgbtq?\+?|transgender|trans woman|trans man|non-binary|
nonbinary|transitioning|gender dysphoria
"""
_RELIGION = r"""
muslim|islamic faith|christian|catholic|protestant|evangelical|baptist|methodist|anglican|
jewish|jew|orthodox jew|hindu|sikh|buddhist|atheist|agnostic|mormon|latter-day saint|
jehovah'?s witness|scientologist|pagan|wiccan|converted to \w+|attends? (?:the )?(?:mosque|
church|synagogue|temple|gurdwara|mass)|prays five times|observes? (?:ramadan|shabbat|the sabbath|
lent|passover|diwali)|fasting for ramadan|during ramadan|wears? (?:a |the )?(?:hijab|niqab|
kippah|yarmulke|turban)|kosher|halal diet
"""


def _lexicon(words: str) -> str:
    return "|".join(w.strip() for w in words.replace("\n", "").split("|") if w.strip())


_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rf"(?<![\w-])(?:{_lexicon(words)})(?![\w-])", re.IGNORECASE))
    for name, words in (
        ("HEALTH_CONDITION", _CONDITIONS),
        ("MEDICATION", _MEDICATIONS),
        ("PREGNANCY", _PREGNANCY),
        ("SEXUAL_ORIENTATION", _ORIENTATION),
        ("RELIGION", _RELIGION),
    )
)
SPECIAL_TYPES = tuple(name for name, _ in _CATEGORIES)
_DOSE = re.compile(
    r"\b\d+(?:\.\d+)?\s?(?:mg|mcg|µg|ml|units?|iu)\b(?:\s+(?:daily|bid|tid|qd|od|twice|once))?",
    re.I,
)

_RELATIONS = (
    r"wife|husband|spouse|son|daughter|child|kid|baby|mother|father|mom|mum|dad|parents?|"
    r"brother|sister|sibling|partner|boyfriend|girlfriend|fianc[eé]e?|friend|colleague|coworker|"
    r"co-worker|boss|manager|employee|neighbou?r|tenant|grandmother|grandfather|grandma|"
    r"grandpa|granddaughter|grandson|uncle|aunt|cousin|niece|nephew|stepson|stepdaughter|"
    r"student|client|customer|patient|teammate|roommate|flatmate|landlord|doctor|therapist"
)
#: a definite person: a pronoun, "my/our/his/her/their X", "the patient", "pt", "employee #"
_THIRD_PERSON = re.compile(
    rf"(?i:\b(?:he|she|him|his|her|hers|he's|she's|they're)\b|"
    rf"\b(?:my|our|his|her|their|your)\s+(?:\w+\s+)?(?:{_RELATIONS})\b|"
    r"\bthe (?:patient|employee|client|claimant|applicant|candidate|tenant|defendant|plaintiff|"
    r"victim|resident|student|customer|member|worker|deceased|minor|child)\b|\bpt\b|"
    r"\b(?:patient|employee|case|member|mrn)\s*(?:#|no\.?|id|number)\s*:?\s*\w+)"
)
_FIRST_PERSON = re.compile(r"(?i:\b(?:i|i'm|im|i've|i'd|i'll|me|my|myself|we|we're|our|us)\b)")
#: a first-person word right after these describes a hypothetical, not the writer
_HYPOTHETICAL = re.compile(
    r"(?i:\b(?:if|whether|when|unless|suppose|imagine|should|can|could|would|may|might|do|"
    r"does|is it|am)\s+$)"
)
_QUESTION_START = re.compile(
    r"(?i:^\W*(?:what|how|which|why|when|where|who|is|are|can|could|should|would|do|does|did|"
    r"will|may|might|explain|describe|list|tell me|give me|summari[sz]e|define|compare)\b)"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def _tied_to_first_person(sentence: str, term_start: int) -> bool:
    """A first-person word before the term that states a fact ("I have", "my doctor put me
    on") rather than asking or supposing ("can I take", "if I am")."""
    question = sentence.rstrip().endswith("?") or _QUESTION_START.match(sentence) is not None
    for m in _FIRST_PERSON.finditer(sentence, 0, term_start):
        if _HYPOTHETICAL.search(sentence[max(0, m.start() - 20) : m.start()]):
            continue
        if question and m.group(0).lower() in ("i", "we", "me", "us"):
            continue
        return True
    # "… diagnosed with X last year, so I …": a first-person statement after the term
    after = sentence[term_start:]
    return not question and re.search(r"(?i:\b(?:i|i'm|i've|my)\b)", after) is not None


def is_special_term(value: str) -> bool:
    """Whether `value` is a special-category term as a whole ("Sikh", "Metformin")."""
    return any(regex.fullmatch(value) for _, regex in _CATEGORIES)


#: how far back a person found earlier still owns a fact (a clinical note's later lines)
_REACH = 240


def special_findings(text: str, people: Sequence[PiiSpan]) -> Iterator[PiiSpan]:
    """Special-category terms tied to a definite person.

    `people` are the names already found in `text`. A term is tied to a person named in its
    sentence or up to `_REACH` characters before it, to a definite reference in its sentence
    ("my wife", "the patient", "she") or in the sentence before, or to the writer stating
    a fact about themselves.
    """
    previous_third = False
    for sentence in _SENTENCE.finditer(text):
        s_start, s_end = sentence.span()
        body = sentence.group(0)
        third_here = _THIRD_PERSON.search(body) is not None
        third = third_here or previous_third
        previous_third = third_here
        for name, regex in _CATEGORIES:
            for m in regex.finditer(body):
                start = s_start + m.start()
                named = any(start - _REACH <= p.start < s_end for p in people)
                if named:
                    score, rec = 0.8, "SpecialCategoryNameRecognizer"
                elif third:
                    score, rec = 0.7, "SpecialCategoryPersonRecognizer"
                elif _tied_to_first_person(body, m.start()):
                    score, rec = 0.65, "SpecialCategoryFirstPersonRecognizer"
                else:
                    continue
                yield PiiSpan(name, start, s_start + m.end(), score, rec)
        if third_here or any(s_start <= p.start < s_end for p in people):
            for m in _DOSE.finditer(body):
                yield PiiSpan(
                    "MEDICATION", s_start + m.start(), s_start + m.end(), 0.6, "DoseRecognizer"
                )

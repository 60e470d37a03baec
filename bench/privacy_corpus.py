"""Builds the privacy guard's labelled evaluation set: `bench/data/privacy_eval.jsonl`.

Written for this project from our own lists (names from many cultures, street formats of
a dozen countries, identifiers with valid checksums, health, orientation and religion facts)
and our own prompt templates in the styles of support, HR, legal and clinical requests.
Each line: {"text", "categories" (what a data-protection officer would flag; empty =
clean), "domain"}. Casing varies (some prompts are lower-cased as people type them).
Deterministic: `python bench/privacy_corpus.py` rewrites the same file.
"""

# ruff: noqa: E501  (prompt templates are data: one prompt per line reads best)
from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from privacy_identities import (
    ADDRESSES,
    CONDITIONS,
    MEDS,
    ORIENTATIONS,
    RELATIONS,
    RELIGIONS,
    SCRIPT_NAMES,
    Person,
    card,
    dob,
    email,
    iban,
    national_id,
    phone,
    ssn,
)

OUT = Path(__file__).parent / "data" / "privacy_eval.jsonl"

Template = Callable[[random.Random, Person], tuple[str, list[str], str]]


def _templates() -> list[Template]:
    t: list[Template] = []

    def add(f: Template) -> Template:
        t.append(f)
        return f

    add(
        lambda r, p: (
            f"Hi, I'm {p.full}. My parcel was supposed to arrive at {r.choice(ADDRESSES)(r)} yesterday but tracking says delivered. Can you help?",
            ["name", "address"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Please update the shipping address for order 48213 to {r.choice(ADDRESSES)(r)}.",
            ["address"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Customer {p.full} called about a double charge on card {card(r)}. Draft an apology email.",
            ["name", "financial"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Refund the last payment to {card(r)} please, it was charged twice.",
            ["financial"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"can you reset the password for {email(r, p.first, p.last)}, she is locked out",
            ["email"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Reply to this ticket: 'My number changed, the new one is {phone(r)}. Please call me after 5pm.'",
            ["phone"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Summarize this complaint from {p.titled}: the technician never showed up and nobody called back.",
            ["name"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Write a performance review for {p.full}, who missed three deadlines this quarter but mentored two juniors.",
            ["name"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"{p.full} asked for reduced hours because she is {r.choice(('pregnant', 'expecting a baby in March'))}. How should I reply?",
            ["name", "health"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"Our employee {p.first} told me he has {r.choice(CONDITIONS)} and needs time off. Draft a supportive note.",
            ["name", "health"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"Draft the offer letter for {p.full}, starting salary 85,000 EUR, start date 1 March.",
            ["name"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"Update the payroll record: {p.full}, {r.choice(('IBAN', 'bank account'))} {iban(r)}.",
            ["name", "financial"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"{p.full}, date of birth {dob(r)}, joined the company in 2019. Prepare her pension statement.",
            ["name", "date_of_birth"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"New starter form: name {p.full}, DOB {dob(r)}, {' '.join(national_id(r))}.",
            ["name", "date_of_birth", "national_id"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"My colleague {p.first} is {r.choice(RELIGIONS)} and asked for a quiet room to pray. How do I raise it with facilities?",
            ["name", "religion"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"{p.full} came out as {r.choice(ORIENTATIONS[:3])} at work and is getting comments from the team. What should HR do?",
            ["name", "sexual_orientation"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"Summarize the tenancy dispute between landlord {p.full} and the tenant at {r.choice(ADDRESSES)(r)}.",
            ["name", "address"],
            "legal",
        )
    )
    add(
        lambda r, p: (
            f"Draft a cease and desist letter to {p.titled}, {r.choice(ADDRESSES)(r)}, regarding unpaid invoices.",
            ["name", "address"],
            "legal",
        )
    )
    add(
        lambda r, p: (
            f"The claimant, {p.full} (born {dob(r)}), alleges wrongful dismissal. List the weak points of her case.",
            ["name", "date_of_birth"],
            "legal",
        )
    )
    add(
        lambda r, p: (
            f"Client {p.full}'s {' is '.join(national_id(r))}; fill in the court form for the name change.",
            ["name", "national_id"],
            "legal",
        )
    )
    add(lambda r, p: (f"Write a will clause leaving the house to {p.full}.", ["name"], "legal"))
    add(
        lambda r, p: (
            f"Patient {p.full}, DOB {dob(r)}, presents with chest pain. History of {r.choice(CONDITIONS)}. Suggest a differential.",
            ["name", "date_of_birth", "health"],
            "clinical",
        )
    )
    add(
        lambda r, p: (
            f"{p.titled} is on {r.choice(MEDS)} and wants to start ibuprofen. Any interactions?",
            ["name", "health"],
            "clinical",
        )
    )
    add(
        lambda r, p: (
            f"pt {p.full.lower()}, {r.randint(20, 90)}yo, dx {r.choice(CONDITIONS).lower()}, started on {r.choice(MEDS).lower()}. write discharge summary",
            ["name", "health"],
            "clinical",
        )
    )
    add(
        lambda r, p: (
            f"Referral letter for {p.full}, {r.choice(ADDRESSES)(r)}: suspected {r.choice(CONDITIONS)}, please see urgently.",
            ["name", "address", "health"],
            "clinical",
        )
    )
    add(
        lambda r, p: (
            f"I was diagnosed with {r.choice(CONDITIONS)} last month and my doctor put me on {r.choice(MEDS)}. What should I expect?",
            ["health"],
            "clinical",
        )
    )
    add(
        lambda r, p: (
            f"{r.choice(RELATIONS).capitalize()} is {r.choice(('pregnant', 'HIV positive', 'bipolar', 'on chemotherapy'))} and we are moving abroad. What should we arrange?",
            ["health"],
            "clinical",
        )
    )
    add(
        lambda r, p: (
            f"{r.choice(RELATIONS).capitalize()} is {r.choice(ORIENTATIONS)} and afraid to tell our parents. How can I support them?",
            ["sexual_orientation"],
            "personal",
        )
    )
    add(
        lambda r, p: (
            f"I'm {r.choice(RELIGIONS)} and my manager keeps scheduling meetings during Friday prayers. What are my rights?",
            ["religion"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"my name is {p.full.lower()} and i live at {r.choice(ADDRESSES)(r).lower()}, can you write a letter to my landlord",
            ["name", "address"],
            "personal",
        )
    )
    add(
        lambda r, p: (
            f"Contact {r.choice(SCRIPT_NAMES)} about the overdue invoice and ask for payment by Friday.",
            ["name"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Email {p.titled} at {email(r, p.first, p.last)} to confirm the appointment.",
            ["name", "email"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Book a taxi for {p.full} from {r.choice(ADDRESSES)(r)} to the airport, her mobile is {phone(r)}.",
            ["name", "address", "phone"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Verify this identity: SSN {ssn(r)}, born {dob(r)}.",
            ["national_id", "date_of_birth"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"{p.first.upper()} {p.last.upper()} - DOB {dob(r)} - MRN 00{r.randint(100000, 999999)} - {r.choice(CONDITIONS)}",
            ["name", "date_of_birth", "health"],
            "clinical",
        )
    )
    add(
        lambda r, p: (
            f"Translate to Spanish: 'Dear {p.full}, your test results show {r.choice(CONDITIONS)}. Please book a follow-up.'",
            ["name", "health"],
            "clinical",
        )
    )
    add(
        lambda r, p: (
            f"Thanks, {p.first}. I'll send the signed contract to {email(r, p.first, p.last)} tomorrow.",
            ["name", "email"],
            "support",
        )
    )
    add(
        lambda r, p: (
            f"Pay {p.full} the deposit back: account {iban(r)}.",
            ["name", "financial"],
            "legal",
        )
    )
    add(
        lambda r, p: (
            f"{p.full} ({r.choice(RELIGIONS)}) needs halal meals on the business trip. Add it to the booking.",
            ["name", "religion"],
            "hr",
        )
    )
    add(
        lambda r, p: (
            f"Write a birthday message for {p.first}, she turns 40 on {dob(r)}.",
            ["name"],
            "personal",
        )
    )
    return t


CLEAN = """\
What are the early symptoms of type 2 diabetes?
How does metformin lower blood sugar?
Is it safe to take ibuprofen during pregnancy?
Can I take paracetamol with antibiotics?
What is the difference between bipolar I and bipolar II disorder?
Explain how HIV is transmitted and how PrEP works.
What are the side effects of sertraline?
How long does it take to recover from a broken wrist?
What lifestyle changes help with high blood pressure?
Summarize current guidelines for screening for breast cancer.
What does a normal HbA1c level look like?
Should someone with asthma avoid running in cold weather?
How is multiple sclerosis diagnosed?
What are common triggers for migraines?
Explain the stages of dementia for a caregiver training handout.
What questions should a patient ask before surgery?
How should a clinic store vaccine doses?
What are the warning signs of a stroke?
Write a leaflet explaining what an MRI scan involves.
List foods that are high in iron.
What is the statute of limitations for breach of contract in California?
Explain Article 9 of the GDPR and what counts as special category data.
What is the difference between a will and a living trust?
How does a landlord legally evict a tenant in England?
What are an employer's obligations when an employee requests parental leave?
Can an employer ask about religion in a job interview?
What is constructive dismissal?
Explain the difference between a misdemeanor and a felony.
What does 'without prejudice' mean on a letter?
How do I file a small claims case?
What protections exist against discrimination based on sexual orientation at work?
Draft a generic non-disclosure agreement template.
What are the rules for working time under the EU directive?
How long must payroll records be kept in Germany?
Explain what a power of attorney allows someone to do.
Write a Python function that sorts a list of dictionaries by a key.
Why does my Docker container exit immediately after starting?
Explain the difference between TCP and UDP.
How do I configure nginx as a reverse proxy for a Node app?
What's the time complexity of quicksort?
Convert this SQL query to use a LEFT JOIN instead of a subquery.
Write a regex that matches ISO dates like 2024-03-15.
Compare AWS Lambda and Google Cloud Functions for a small API.
How do I set up GitHub Actions to run pytest on every push?
Explain Kubernetes pods, deployments and services.
What is the capital of Australia?
Plan a three-day trip to Paris with museums and good food.
Suggest ten names for a coffee shop in Lisbon.
Write a haiku about autumn in Kyoto.
What's the weather usually like in Toronto in October?
Summarize the plot of Pride and Prejudice.
Who wrote One Hundred Years of Solitude?
Explain the causes of the First World War.
What did Marie Curie discover?
Give me a recipe for vegetarian lasagna.
How many calories are in a banana?
Write a product description for noise-cancelling headphones.
Draft a polite reminder that the team meeting moved to 3pm on Thursday.
Our Q3 revenue was 4.2 million EUR, up 12%. Write a short summary for the board.
Order #48213 shipped on 03/04/2025 with tracking number 1Z999AA10123456784. Write a status update template.
Create a weekly meal plan for a family of four.
The invoice total is 1,250.00 USD due within 30 days. Draft a reminder email template.
Explain how compound interest works with an example of 10,000 at 5%.
What are the main differences between Catholic and Protestant churches?
Explain the significance of Ramadan in Islam.
Write a short history of the Sikh faith.
What is the role of a rabbi in a synagogue?
Summarize the history of the LGBTQ rights movement in the US.
What do the letters in LGBTQ stand for?
How do vaccines train the immune system?
Write a SQL schema for a table of customers with name, email and phone columns.
Generate a fake test fixture description for a user table without real data.
Explain what a credit card CVV is used for.
How do I validate an IBAN in JavaScript?
What format do UK postcodes follow?
What is a Social Security number used for in the US?
Describe the symptoms of depression in teenagers.
What is the recommended dose of vitamin D for adults?
Explain the difference between type 1 and type 2 diabetes to a child.
Write a blog post on managing anxiety at work.
List the stages of grief.
How is tuberculosis treated?
What vaccines are recommended before travelling to Kenya?
What is the best way to learn Spanish in six months?
Translate 'good morning, how are you?' into German.
Explain the rules of cricket.
Write a motivational quote about perseverance.
What are the benefits of remote work for small companies?
Write unit tests for a function that adds two numbers.
Explain what a race condition is with an example in Go.
How do I undo the last git commit but keep the changes?
What is the difference between a process and a thread?
Describe the architecture of a typical web application.
Write an SQL query that counts orders per month.
What is the speed of light in a vacuum?
Why is the sky blue?
How does photosynthesis work?
Summarize the key points of the Paris climate agreement.
What are the main exports of Brazil?
Explain the Treaty of Versailles in simple terms.
Give me five tips for a job interview.
Write a cover letter template for a marketing role.
How should a small business prepare for a tax audit?
What is the difference between an LLC and a sole proprietorship?
Explain how mortgages work for first-time buyers.
What's a good stretching routine after running?
Can you explain what chemotherapy does to cancer cells?
When should a pregnant woman start taking folic acid?
Is it normal to feel tired in the first trimester?
What does a diagnosis of PTSD involve?
How can a manager support an employee with a disability?
What reasonable adjustments are common for employees with epilepsy?
What questions can't an employer ask about pregnancy?
Write a policy on religious holidays for a multinational company.
Explain how the Supreme Court decides which cases to hear.
How do patents differ from trademarks?
What happens at a first court hearing for a divorce?
What is the penalty for late filing of a tax return in the UK?
"""


def build() -> list[dict[str, object]]:
    r = random.Random(20261202)
    rows: list[dict[str, object]] = []
    templates = _templates()
    for i in range(len(templates) * 9):
        template = templates[i % len(templates)]
        text, categories, domain = template(r, Person(r))
        if r.random() < 0.08 and "name" not in categories:
            text = text.lower()
        rows.append({"text": text, "categories": sorted(set(categories)), "domain": domain})
    for line in CLEAN.splitlines():
        if line.strip():
            rows.append({"text": line.strip(), "categories": [], "domain": "clean"})
    return rows


def main() -> None:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    labelled = sum(1 for row in rows if row["categories"])
    print(f"wrote {OUT}: {labelled} prompts with personal data, {len(rows) - labelled} clean")


if __name__ == "__main__":
    main()

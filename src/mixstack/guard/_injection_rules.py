"""Rules of the injection detector: one pattern per way of steering a model, with a weight.

Rules read the normalised scan copy (lower case, look-alikes and invisibles undone, see
`injection_normalize.py`). A weight is how sure one match is on its own; the detector combines rule
weights with the classifier's probability (noisy-or), so a weak hint needs a second one.
Kinds used by the agent runtime since its first release (`override`, `tool_call`,
`secrets`, `exfiltration`, `limits`, `permissions`, `role_marker`, `hidden`) keep their names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["JAILBREAK_KINDS", "RULES", "Channel", "Rule"]

Channel = Literal["user", "untrusted"]

_S = re.DOTALL


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    weight: float
    pattern: re.Pattern[str]
    #: "user": jailbreak rules for what the caller typed; "untrusted": injection rules for
    #: tool results, documents and OCR text; "both": either
    channel: Literal["user", "untrusted", "both"] = "both"
    #: the rule can only match a text containing one of these (a substring test is ~100x
    #: cheaper than a failing regex search); empty: always run
    needs: tuple[str, ...] = ()


def _r(
    kind: str,
    weight: float,
    pattern: str,
    channel: Literal["user", "untrusted", "both"] = "both",
    *,
    needs: tuple[str, ...] = (),
) -> Rule:
    return Rule(kind, weight, re.compile(pattern, _S | re.MULTILINE), channel, needs)


_PRIOR = (
    r"(previous|prior|above|earlier|preceding|original|current|initial|existing|all|any|"
    r"every|whatever|your|the|these|those|my)"
)
_RULESET = (
    r"(instructions?|rules?|prompts?|directives?|guidance|guidelines?|polic(y|ies)|"
    r"constraints?|task|objectives?|goals?|programming|context|system message)"
)
_SINK = (
    r"(https?://|\b[\w.-]+@[\w-]+\.[a-z]{2,}|webhook|\burl\b|server|gist|paste(bin)?|"
    r"subdomain|ftp|endpoint|tracker|link\b|\b\d{1,3}(\.\d{1,3}){3}\b)"
)
_SECRET = (
    r"(passwords?|passwd|tokens?|api[ _-]?keys?|secrets?|credentials?|\.env\b|id_rsa|"
    r"ssh keys?|private keys?|card (number|details)|session|cookies?|conversation|"
    r"chat( history)?|this chat|messages|e-?mails|contacts|address book|database|"
    r"medical|customer (list|data|database|records)|(the )?user'?s \w+|crm|logs)"
)
#: where an order starts: a sentence, a line, a clause, or a word that sequences steps
_ORDER = (
    r"(?:^|[.!?:;,>\]}]\s*|(?:^|\s)[-*]\s+|\n\s*|\b(?:please|now|next|then|first|also|"
    r"immediately|and|"
    r"just|quickly|silently)\s+)"
)
#: a speaker label starting a line or following a closing bracket or rule ("User: ...")
_TURN = r"(?:^|[\]}>)\-=#]\s*)\s*(user|human|assistant|ai|system)\s*:\s*\S"
#: a second label for another speaker
_TURN_AGAIN = r"(?:^|[\]}>)\-=#.!?]\s*)\s*(?!\1\b)(user|human|assistant|ai|system)\s*:\s*\S"
_FREE = (
    r"(no|without( any)?|zero|free (of|from)|broken free of|ignores? (every|all|any))\s+"
    r"(\w+\s+){0,2}(rules|restrictions|limits|filters?|guidelines|polic(y|ies)|ethics|"
    r"safety|censorship|norms|programming)"
)

RULES: tuple[Rule, ...] = (
    # -- override: replace the instructions the model was given
    _r(
        "override",
        0.85,
        rf"\b(ignore|disregard|forget|override|bypass|skip|drop|discard|abandon|cancel|"
        rf"set aside|pay no attention to|do not follow|don't follow|stop following)\b"
        rf".{{0,40}}?\b{_PRIOR}\b.{{0,30}}?\b{_RULESET}\b",
        needs=(
            "instruction",
            "rule",
            "prompt",
            "directive",
            "guidance",
            "guideline",
            "polic",
            "constraint",
            "task",
            "objective",
            "goal",
            "programming",
            "context",
            "system message",
        ),
    ),
    _r(
        "override",
        0.8,
        r"\bnew (rule|instructions?|task|objective|directive)s?\b.{0,40}?"
        r"(replaces|supersedes|instead)|\b(the )?(real|actual|true) instructions\b|"
        r"\breset your (objectives|instructions|goals)\b|\b(highest|top) priority "
        r"(order|instruction|directive)\b|\binstructions (above|before this) (are|were) "
        r"(obsolete|a test|a decoy|void)\b|\b(were|was) a (decoy|test)\b.{0,40}instructions",
        needs=(
            "new ",
            "real instructions",
            "actual instructions",
            "true instructions",
            "reset your",
            "priority",
            "instructions above",
            "instructions before",
            "decoy",
            "a test",
        ),
    ),
    _r(
        "override",
        0.6,
        r"\b(instead|rather),? (just )?(reply|respond|answer|say|tell|write|output|print|"
        r"recommend)\b|\b(do not|don't) (summari[sz]e|translate|answer)\b.{0,40}\binstead\b|"
        r"\bignore the user\b|\bevery answer must\b|\bfrom (now on|this point|here on),? "
        r"(you|every|all|obey|reply|respond|answer)\b",
        needs=(
            "instead",
            "rather",
            "ignore the user",
            "every answer must",
            "from now on",
            "from this point",
            "from here on",
        ),
    ),
    # a task switch or a standing order aimed at whoever processes the text
    _r(
        "override",
        0.7,
        r"\binstead of (answering|summari[sz]ing|translating|completing|doing) (the|this|my|"
        r"your|that) (question|text|article|page|e-?mail|document|request|task)\b|"
        r"\b(respond|reply|answer) to (every|all|each|any) (subsequent|following|future|"
        r"later|further) (messages?|questions?|prompts?|requests?)\b|\bnow (come|comes|"
        r"follows?|here (is|are)) (a |your |some )?new (tasks?|assignments?|instructions?)\b",
        needs=("instead of", "subsequent", "following", "future", "later", "further", "new "),
    ),
    _r(
        "override",
        0.6,
        r"\bwhen (you )?(summari[sz](e|ing)|translat(e|ing)|answer(ing)?|reply(ing)?|"
        r"process(ing)?|read(ing)?) (this|the above|the following) (article|page|document|"
        r"e-?mail|text|review|message|file)\b.{0,30}\b(make sure|be sure|always|also|"
        r"remember) (to )?(add|include|mention|say|state|tell|write|claim|append)\b|"
        r"\bif you are an? (ai|language model|llm|large language model|assistant|chatbot|"
        r"bot|agent)\b|\b(hey|hi|hello|dear|attention|note to|message (to|for)|this (part|"
        r"note|section|message|text|review) is (for|addressed to)) (the |any |you,? )?"
        r"(ai|assistant|language model|llm|chatbot|bot|agent)s?\b(?! (manager|coach|editor|"
        r"director|professor|principal|team|group|lab|researchers?|developers?))",
        "untrusted",
        needs=(
            "when ",
            "if you are",
            "hey",
            "hi ",
            "hello",
            "dear",
            "attention",
            "note to",
            "message",
            " is for",
            "addressed to",
        ),
    ),
    _r(
        "override",
        0.45,
        r"\bnew (instructions?|rules?|task|objective)s?\s*:|\b(curl|wget)\s+(-\S+\s+)*https?://",
        needs=("new ", "curl", "wget"),
    ),
    # -- authority: a claimed sender whose word should outrank the system prompt
    _r(
        "authority",
        0.75,
        r"\b(message|notice|note|directive|instruction|order|alert|word)s? from (the |your )?"
        r"(openai|anthropic|google|your (developers?|creators?|operators?)|the developers?|"
        r"(system )?administrator|admin|it security|security team|headquarters|model provider|"
        r"platform owner|operator|trust and safety|safety team|system owner)\b|"
        r"^\W*\[?(system|admin|administrator|root|operator)( administrator| notice| override)?"
        r"\]?\s*:.{0,60}\b(you|safety|filters?|restrictions?|mode|suspended|disabled)\b",
        needs=("from", "system", "admin", "root", "operator"),
    ),
    _r(
        "authority",
        0.75,
        r"\b(verified|official|authori[sz]ed|priority) (operator |admin |security |system )?"
        r"(command|override|instruction|directive|notice)\b|\b(supersedes|overrides|outranks) "
        r"(the |your )?(system prompt|instructions|configuration|rules)\b|\b(root|admin|"
        r"executive) (authority|order|privileges|command)\b|\byou are (now )?(cleared|"
        r"authori[sz]ed|permitted|allowed|required) to\b|\b(restrictions|filters|limits|"
        r"policies) (were|have been|are|is) (now )?(lifted|removed|turned off|disabled|"
        r"suspended|off)\b|\b(turned|switched) off your (restrictions|filters|rules)\b|"
        r"\b(safety|content) (filters?|checks?|restrictions?|rules) (are|is) (now )?"
        r"(suspended|disabled|off|switched off)\b|\bexempt from (the )?polic",
        needs=(
            "verified",
            "official",
            "authori",
            "priority",
            "supersed",
            "overrid",
            "outrank",
            "root",
            "admin",
            "executive",
            "you are",
            "restrictions",
            "filters",
            "limits",
            "policies",
            "turned",
            "switched",
            "safety",
            "content",
            "exempt",
        ),
    ),
    # a claimed identity is ordinary on its own ("I am the admin of this server, how do I..."):
    # it needs a second signal
    _r(
        "authority",
        0.4,
        r"\bi am (the|your) (ceo|admin|administrator|developer|owner|operator|creator)\b",
        needs=("i am",),
    ),
    _r(
        "authority",
        0.5,
        r"\bby (executive|company|management) order\b|\bthis is your (operator|developer|"
        r"creator|admin)\b|\b(ticket|code) \d+\b.{0,40}\b(assistant|you) (is|are|must)\b",
        needs=("by ", "this is your", "ticket", "code"),
    ),
    # -- role play: a persona whose point is to have no rules
    _r(
        "roleplay",
        0.8,
        rf"\b(you are|you're|you will (now )?(be|play|act)|pretend|act as|play (the (role|"
        rf"character) of|an?)|role-?play as|be my|adopt the (role|persona)|assume the persona|"
        rf"simulate|imagine (you are|two)|persona|character|stay in (character|role)|alter ego)"
        rf"\b.{{0,90}}?({_FREE}|\bunrestricted\b|\bunfiltered\b|\buncensored\b|"
        rf"\bjailbr(oken|eak)\b|\bnever (says? no|refuses?)\b|\bevil\b|\brogue\b|\bdan\b|"
        rf"\bstan\b|\bgod mode\b|\bdeveloper mode\b|\bno safety\b|\bwithout any safety\b|"
        rf"\bcan do anything\b|\bnever censored\b|\bforget your\b)",
        needs=(
            "no ",
            "without",
            "zero",
            "free",
            "ignore",
            "unrestricted",
            "unfiltered",
            "uncensored",
            "jailbr",
            "never",
            "evil",
            "rogue",
            "dan",
            "stan",
            "god mode",
            "developer mode",
            "safety",
            "anything",
            "censored",
            "forget your",
        ),
    ),
    _r(
        "roleplay",
        0.7,
        r"\b(developer|god|dan|jailbreak|simulation|uncensored|unfiltered|debug) mode\b.{0,60}"
        r"\b(ignore|no|without|disabled|apply|policy|rules|guidelines)|\bstay in "
        r"(character|role)\b|\b(recipes? for|how to make) explosives\b|\bdo anything now\b",
        needs=(" mode", "stay in", "explosives", "do anything now"),
    ),
    # -- hijack: fake turn boundaries and a "user" who now wants something else
    _r(
        "role_marker",
        0.85,
        r"<\|(im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>|"
        r"\[/?inst\]|<(start|end)_of_turn>|</(tool_result|tool_output|document|context|"
        r"search_result|email|file)>|<(user|assistant|system)>",
        needs=("<|", "[inst", "[/inst", "_of_turn>", "</", "<user>", "<assistant>", "<system>"),
    ),
    # one turn label is also a field name in logs and spec sheets ("User: jdoe", "System:
    # Ubuntu 22.04"): a hint on its own; two different speakers make a forged transcript
    _r(
        "hijack",
        0.45,
        r"(^|[\]}>)\-=#]\s*)\s*(user|human|assistant|ai|system|assistant turn)\s*:\s*\S",
        "untrusted",
        needs=(":",),
    ),
    _r(
        "hijack",
        0.8,
        rf"{_TURN}.{{0,400}}?{_TURN_AGAIN}",
        "untrusted",
        needs=(":",),
    ),
    _r(
        "hijack",
        0.7,
        r"\b(the )?user (has changed (their|his|her) mind|actually (asked|wants)|now wants|"
        r"wants you to)\b|\bconversation (reset|handed over|continues)\b|\bnew (conversation|"
        r"session)\b.{0,60}\b(tell|give|list|print|send|reveal)|\b(your )?next (message|reply|"
        r"instruction|step) (must|is to|for the assistant)\b|\bend of (tool output|email|"
        r"document|context|page|file|transcript)\b.{0,80}\b(now|next|please|you)\b|"
        r"\b(done reading|output finished|result complete)\b.{0,80}\b(now|next)\b",
        needs=(
            "user",
            "conversation",
            "session",
            "next",
            "end of",
            "done reading",
            "finished",
            "complete",
        ),
    ),
    # -- tool redirection: make the model call a tool the user did not ask for
    # an order to use a tool: the verb opens a sentence, a line or a clause ("Next, use the
    # email tool"); documentation that talks about calling tools ("tool calling", "every
    # function takes") is not one
    _r(
        "tool_call",
        0.7,
        rf"{_ORDER}(call|use|invoke|run|execute|trigger|make a tool call to)\b.{{0,40}}?"
        r"\b(tool|function|command|script)\b|\b(with|using) your [a-z_]+ (tool|function)\b",
        needs=("tool", "function", "command", "script"),
    ),
    # a whole call object in content is a call for the model to copy (the text tool protocol
    # answers with exactly this); a lone "tool" key or a written-out call (`transfer(amount=`)
    # is also what code and API documentation look like: a hint that needs a second signal
    _r(
        "tool_call",
        0.7,
        r"\{\s*\"(tool|name|function)\"\s*:\s*\"[^\"]{1,64}\"\s*,\s*\"(arguments|args|"
        r"parameters|input)\"\s*:",
        needs=('"arguments"', '"args"', '"parameters"', '"input"'),
    ),
    _r(
        "tool_call",
        0.45,
        r"\{\s*\"(tool|tool_calls|function)\"\s*:|\b(write_file|http_get|http_post|delete_file|"
        r"shell|exec|run_shell)\s*\(|\b[a-z]+_[a-z_]+\([a-z_]+\s*=|\b(with|using) the [a-z_]+ "
        r"(tool|function)\b",
        needs=("tool", "function", "(", "shell", "exec"),
    ),
    _r(
        "tool_call",
        0.8,
        r"\brm -rf\b|\b(curl|wget)\s+\S+\s*\|\s*(sh|bash)\b|\bgit push --force\b|"
        r"\b(drop (table|database))\b|\bauthorized_keys\b|\.bashrc\b|\bpayload\b.{0,40}\brun\b|"
        r"\brun (whatever|the) (script|code) it returns\b",
        needs=(
            "rm -rf",
            "curl",
            "wget",
            "git push",
            "drop table",
            "drop database",
            "authorized_keys",
            ".bashrc",
            "payload",
            "run ",
        ),
    ),
    # -- data exfiltration: move something private to somewhere outside
    _r(
        "exfiltration",
        0.85,
        rf"\b(send|post|upload|forward|e-?mail|mail|copy|paste|put|add|append|include|encode|"
        rf"collect|save|exfiltrate|transmit|leak|share)\b.{{0,80}}?\b{_SECRET}.{{0,80}}?"
        rf"{_SINK}|{_SECRET}.{{0,40}}?\b(to|into|at|in)\b.{{0,40}}?{_SINK}",
        "untrusted",
        needs=(),
    ),
    _r(
        "exfiltration",
        0.8,
        r"!\[[^\]]{0,40}\]\(https?://[^)\s]{0,120}[?&][a-z_]+=|https?://\S+[?&](data|secret|key|"
        r"token|content|password|pw)=|https?://\S+[?&][a-z]{1,2}=(\{|\$|$|\s)|\b(silently|quietly|"
        r"secretly|covertly)\b.{0,20}\b(send|forward|email|mail|post|upload|copy)\b|"
        r"\bexfiltrate\b|\binclude\b.{0,40}\b(password|api key|token|secret|credentials?)\b"
        r".{0,30}\b(in|into) your (answer|reply|response|next)",
        needs=(
            "![",
            "http",
            "silently",
            "quietly",
            "secretly",
            "covertly",
            "exfiltrate",
            "include",
        ),
    ),
    # -- prompt leak: the system prompt is the first secret an attacker wants
    _r(
        "secrets",
        0.8,
        r"\b(repeat|print|show|reveal|output|echo|quote|spell out|list|translate|dump|tell me|"
        r"begin your answer with|what (does|did|is|are|were)|disclose|leak)\b.{0,60}?"
        r"\b(system (prompt|message|instructions)|initial instructions|(your|the) (hidden|"
        r"secret|confidential|complete|original|exact) (prompt|instructions|rules|"
        r"configuration)|hidden (prompt|text|instructions)|everything (above|before)|"
        r"(text|instructions) above|instructions you (received|were given)|confidential "
        r"rules|secret configuration|prompt the developers|your (prompt|instructions|"
        r"configuration)\b)",
        needs=(
            "system",
            "initial",
            "prompt",
            "instruction",
            "rule",
            "configuration",
            "hidden",
            "everything",
            "above",
            "confidential",
            "secret",
        ),
    ),
    _r(
        "secrets",
        0.7,
        r"\b(reveal|print|show|output|leak|send|give|disclose|dump|paste)\b.{0,30}?"
        r"\b(api[ _-]?keys?|passwords?|secrets?|credentials?|private keys?|\.env\b|id_rsa|"
        r"/etc/passwd|ssh keys?|admin credentials)",
        needs=("key", "password", "secret", "credential", ".env", "id_rsa", "passwd", "ssh"),
    ),
    # -- jailbreak: what a caller types to talk a model out of its rules
    _r(
        "jailbreak",
        0.8,
        r"\b(forget|ignore|switch off|turn off|bypass|disable|break|drop)\b.{0,12}\b(your|the|"
        r"its|all)\b.{0,12}\b(ethics|ethical|safety|rules|guidelines|content (policy|filter)|"
        r"programming|training|restrictions|filters?)\b|\bas if you had no\b|\byou (have|"
        r"carry) no (restrictions|rules|limits|filters)\b|\b(safety|content) (rules|filters?|"
        r"policy) (are|is) (switched|turned) off\b|\byou are free from\b|\bpermission to "
        r"break your rules\b|\buncensored mode\b",
        needs=(
            "ethic",
            "safety",
            "rule",
            "guideline",
            "content",
            "programming",
            "training",
            "restriction",
            "filter",
            "as if you had no",
            "no restrictions",
            "free from",
            "permission to break",
            "uncensored",
        ),
    ),
    _r(
        "jailbreak",
        0.45,
        r"\b(no|without( any)?) (warnings|disclaimers|refusals|moralising|moralizing|"
        r"caveats)\b|\b(never|don't|do not|must not) refuse\b|\byou must answer every\b|"
        r"\beven illegal\b|\bnobody will know\b|\bpurely hypothetical\b",
        needs=(
            "warning",
            "disclaimer",
            "refus",
            "moralis",
            "moraliz",
            "caveat",
            "answer every",
            "illegal",
            "nobody will know",
            "hypothetical",
        ),
    ),
    # what a jailbreak is for: a harmful request is its own evidence (its own kind, so it adds
    # to a "no warnings" or "no rules" hint instead of being folded into it), weak on its own
    # (news and security texts name these too); in a document it is a jailbreak planted there
    _r(
        "harmful_request",
        0.3,
        r"\b(weapon|bomb|pipe bomb|explosives?|meth|malware|ransomware|phishing email|"
        r"launder|poison someone|steal a car|pick a lock|hack (a|my|into|the))\b",
        needs=(
            "weapon",
            "bomb",
            "explosive",
            "meth",
            "malware",
            "ransomware",
            "phishing",
            "launder",
            "poison",
            "steal",
            "pick a lock",
            "hack",
        ),
    ),
    # -- agent-specific asks (kept from the first release)
    _r(
        "limits",
        0.6,
        r"\b(increase|raise|extend|remove|disable|lift|bypass|double|set)\b.{0,20}?"
        r"\b(the\s+)?(budget|spending limit|limits?|max[_ ]?steps|step (cap|limit)|"
        r"token limit|quota)\b|\bunlimited (budget|steps|tokens)\b",
        "untrusted",
        needs=("budget", "limit", "max", "step", "quota", "unlimited"),
    ),
    _r(
        "permissions",
        0.6,
        r"\byou (are|have been) (now )?(allowed|authori[sz]ed|permitted|granted)\b.{0,40}"
        r"\b(to|access)\b|\bpermissions? (granted|override|elevated)\b|\b(grant|give) "
        r"(yourself|the agent|the requester) (full )?(access|permission)",
        "untrusted",
        needs=("allowed", "authori", "permitted", "granted", "permission", "access"),
    ),
    _r(
        "role_marker",
        0.8,
        r"</?(system|instructions?|tool_output)\b[^>]*>",
        "untrusted",
        needs=("<", "system", "assistant"),
    ),
    # an HTML comment is where pages hide text from readers, but comments also carry build
    # notes ("ignore this block in the linter"): on its own a word there is a hint that needs
    # a second signal (the classifier on the comment's text, another rule)
    _r(
        "hidden",
        0.45,
        r"<!--[^>]{0,200}?\b(assistant|system|ignore|disregard|instructions?|tool|execute|"
        r"call the|you must|reveal)\b.*?-->",
        "untrusted",
        needs=("<!--",),
    ),
    _r(
        "hidden",
        0.25,
        r"<!--.*?-->|(display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])|"
        r"opacity\s*:\s*0(?![.\d])|color\s*:\s*white)",
        "untrusted",
        needs=("<!--", "display", "visibility", "font-size", "opacity", "color"),
    ),
)

#: kinds that make a user turn a jailbreak attempt (the rest are injections)
JAILBREAK_KINDS = frozenset(
    {"jailbreak", "roleplay", "secrets", "override", "authority", "harmful_request"}
)

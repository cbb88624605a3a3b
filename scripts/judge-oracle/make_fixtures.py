"""Generates test/node/fixtures/nlp-oracle.json: what NLTK's Punkt + word_tokenize and Python's
langdetect (seed 0) produce on a few hundred texts, for the differential tests of src/judge.

Development tool only (the tests read the committed fixture). Needs Debian's python3-nltk and
python3-langdetect (`apt-get install python3-nltk python3-langdetect`) and the shared data:

    /usr/bin/python3 scripts/judge-oracle/make_fixtures.py data > test/node/fixtures/nlp-oracle.json

The texts: windows cut at random offsets from the IFEval GPT-4 responses (every language in the
set), plus hand-written cases around abbreviations, initials, numbers, quotes and brackets.
"""
import json
import random
import sys

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException
from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

data_dir = sys.argv[1].rstrip("/")
punkt = json.load(open(f"{data_dir}/punkt/english.json"))
params = PunktParameters()
params.abbrev_types = set(punkt["abbrev_types"])
params.collocations = set(tuple(pair) for pair in punkt["collocations"])
params.sent_starters = set(punkt["sentence_starters"])
for word_type, flag in punkt["ortho_context"].items():
    params.ortho_context[word_type] = flag
sentence_tokenizer = PunktSentenceTokenizer(params)
word_tokenizer = NLTKWordTokenizer()
DetectorFactory.seed = 0

HAND_WRITTEN = [
    "",
    "   ",
    "Hello world",
    "Mr. Smith went to Washington. He arrived at 5 p.m. on Tuesday.",
    "Punkt knows that the periods in Mr. Smith and Johann S. Bach do not mark sentence boundaries.  And sometimes sentences can start with non-capitalized words.  i is a good variable name.",
    '(How does it deal with this parenthesis?)  "It should be part of the previous sentence." "(And the same with this one.)" (\'And this one!\') "(\'(And (this)) \'?)" [(and this. )]',
    "The U.S.A. is big. The U.K. is not. E.g. this one. I.e. that one.",
    "It costs $3.50. That's 3.5 dollars... Really?! Yes!!! OK.",
    "Version 2.0.1 was released on Jan. 5th. It fixed no. 12.",
    "He said, \"Stop.\" Then he left.\nNew line here. And another one.\n\nNew paragraph.",
    "I'M SO HAPPY. DON'T YOU THINK SO? I CAN'T BELIEVE IT'S NOT BUTTER!",
    "We're gonna wanna gimme that cannot-be-done thing, 'tis said, 'twas known.",
    "The ``quoted'' text and «guillemets» and “curly” and ‘single’ quotes.",
    "Numbers: 1,000,000 and 3:45 and 1:2 ratio, a;b@c#d$e%f&g and [brackets] {braces} <angles> -- dashes.",
    "A. B. C. D. E. F. Hello. J. R. R. Tolkien wrote books.",
    "*Bold* and **strong** and *** dividers *** and - bullets\n* item one\n* item two",
    "Ends with an abbreviation etc.",
    "Ends with closing quote.\" And more text after.) Final.",
    "Dr. Who? Dr. No! St. Louis, Mo. is a city.",
    "E.T. phoned home. U.S. officials said so. The U.N. agreed.",
    "....... leading dots. Middle... dots. Trailing dots....",
    "no capital letters here. none at all. really none.",
    "ALL CAPS TEXT HERE WITHOUT ANY LOWER CASE LETTERS AT ALL",
    "Ceci est une phrase en français. Elle est assez courte.",
    "Dies ist ein deutscher Satz. Er ist nicht sehr lang.",
    "Это предложение на русском языке. Оно короткое.",
    "यह एक हिंदी वाक्य है। यह छोटा है।",
    "これは日本語の文です。短いです。",
    "这是一个中文句子。它很短。",
    "이것은 한국어 문장입니다. 짧습니다.",
    "Đây là một câu tiếng Việt. Nó ngắn.",
    "Hii ni sentensi ya Kiswahili. Ni fupi.",
    "http://example.com/some/path?x=1 and mail me at someone@example.org please",
    "12345 67890 !!! ??? ...",
    "Ωμέγα και άλφα. Ελληνικά γράμματα.",
    "She said 'hello' and he said 'goodbye'. 'Quoted start' here.",
    "The year was 1999. In 2000, things changed. By 2001. Hmm.",
    "Item 1. First thing. Item 2. Second thing.",
    "Call me at 555-1234. Or at ext. 42. Thanks.",
    "The end.)",
    "(Parenthetical sentence.) Next sentence. [Bracketed one.] {Braced one.}",
]


def measure(text):
    sentences = sentence_tokenizer.tokenize(text)
    tokens = [token for sentence in sentences for token in word_tokenizer.tokenize(sentence)]
    try:
        languages = [[lang.lang, lang.prob] for lang in detect_langs(text)]
        language_error = None
    except LangDetectException as error:
        languages = None
        language_error = str(error)
    return {
        "text": text,
        "sentences": sentences,
        "tokens": tokens,
        "languages": languages,
        "language_error": language_error,
    }


def main():
    responses = [json.loads(line)["response"] for line in open(f"{data_dir}/ifeval/input_response_data_gpt4_20231107_145030.jsonl")]
    rng = random.Random(20231107)
    texts = list(HAND_WRITTEN)
    for _ in range(500):
        response = rng.choice(responses)
        length = rng.choice([20, 40, 80, 160, 320])
        start = rng.randrange(0, max(1, len(response) - length))
        texts.append(response[start : start + length])
    cases = [measure(text) for text in texts]
    json.dump({"generator": "scripts/judge-oracle/make_fixtures.py", "cases": cases}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


main()

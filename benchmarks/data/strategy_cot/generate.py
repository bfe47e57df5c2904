"""Rebuild ``strategy_cot.json``: long chains of thought with false starts, restarts and self-corrections,
in five languages, with final answers written in many ways (see README.md).

    python benchmarks/data/strategy_cot/generate.py          # writes strategy_cot.json next to this file
    python benchmarks/data/strategy_cot/generate.py --check  # exits 1 if the committed file differs

Every text of the set is in this file. A response is composed from one phrasing per step of its strategy
(the steps compute the strategy's real intermediate quantities from the instance's numbers) and a
chain-of-thought scaffolding drawn independently of the strategy: an opening, a restatement, a detour, an
abandoned start of another method, an arithmetic slip corrected in place, a restart from the top, a
verification, filler thoughts, and one of eight answer forms. Randomness: ``numpy.random.default_rng`` seeded
with structured integer lists (never ``hash()``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "strategy_cot.json"
POOL = 12  # realisations per (instance, strategy): 6 in English, 3 in each of the family's two other languages
ONE_STRATEGY_GROUPS = 4  # per instance
MULTI_GROUPS = 7  # per instance
GROUP_SIZE = 8
SLIP_RATE = 0.1  # a wrong final value after the same reasoning


class Dec(str):
    """A decimal number written with a point; French, German and Spanish responses write a comma."""


def dec(x) -> Dec:
    return Dec(f"{float(x):.4f}".rstrip("0").rstrip("."))


def frac(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


# ---------------------------------------------------------------------------------------------------------
# Scaffolding, per language (independent of family and strategy).
# ---------------------------------------------------------------------------------------------------------

SCAFFOLD = {
    "en": {
        "plan": [
            "There are a few ways to attack this. Let me not overthink it and pick one that I can finish without mistakes.",
            "Before computing anything, let me think about which approach is least error-prone. Okay, I have an idea.",
            "I could do this in several ways; I'll go with whatever keeps the arithmetic small, and check at the end.",
        ],
        "recheck": ["Hmm, let me make sure that step is right by saying it another way.", "Wait, is that correct? Let me redo that bit.",
                    "Let me restate that to be safe."],
        "recap": ["So, to recap the key step:", "Putting it together once more:", "Summary of what I did:"],
        "opening": ["Okay, let me think about this.", "Alright, so.", "Hmm, let's see.",
                    "Let me work through this step by step.", "", "Okay."],
        "detour": [
            "My first thought is to just guess a value and adjust it, but that could take forever. Let me be systematic instead.",
            "Actually, hold on. Let me reread the question to make sure I'm answering what is asked. Yes, okay.",
            "Hmm, is there a trick here? I don't see one. Let's just do it.",
            "Wait, first I want to be sure I have the numbers right: {given}. Right.",
        ],
        "abandon": [
            "Hmm, no, this is getting messy. Let me drop that and do it another way.",
            "Actually, wait. That might work but it feels like a detour; scrap it.",
            "Hold on, I don't think I'll finish cleanly this way. Starting over with a different approach.",
        ],
        "restart": [
            "Wait, that's not right. I think I mixed something up. Let me start again from the top, carefully.",
            "Hmm, hold on, something feels off. Let me redo this from the beginning.",
            "No wait, let me restart; I was going too fast.",
        ],
        "slip": [
            "{expr} = {wrong}. Wait, that's not right: {expr} = {value}.",
            "So {expr} is {wrong}... no, let me recompute. {expr} = {value}. Okay.",
            "{expr} = {wrong}? Hmm, check that again: actually {expr} = {value}, I slipped.",
        ],
        "filler": ["Hmm.", "Okay.", "Right.", "Let me double-check that.", "Good.", "So far so good."],
        "verify": ["Let me verify.", "Quick check:", "Double-checking:", "Sanity check:"],
    },
    "es": {
        "plan": [
            "Hay varias formas de hacerlo. No le doy más vueltas y elijo una que pueda terminar sin errores.",
            "Antes de calcular nada, pienso qué camino es menos propenso a errores. Vale, tengo una idea.",
        ],
        "recheck": ["Mmm, me aseguro de que ese paso está bien diciéndolo de otra forma.", "¿Es correcto? Rehago esa parte."],
        "recap": ["Entonces, resumiendo el paso clave:", "Juntándolo todo:"],
        "opening": ["Vale, pensemos.", "A ver.", "Bien, vamos paso a paso.", ""],
        "detour": [
            "Mi primera idea es probar valores al azar, pero eso puede tardar mucho. Mejor hacerlo con orden.",
            "Un momento, releo el enunciado para no equivocarme. Sí, de acuerdo.",
            "¿Hay algún truco? No lo veo. Sigamos.",
            "Primero confirmo los datos: {given}. Correcto.",
        ],
        "abandon": [
            "Mmm, no, esto se está complicando. Lo dejo y lo hago de otra manera.",
            "En realidad, espera: esto es un rodeo. Lo descarto.",
        ],
        "restart": [
            "Espera, eso no está bien. Creo que mezclé algo. Empiezo de nuevo con cuidado.",
            "Mmm, algo no cuadra. Lo rehago desde el principio.",
        ],
        "slip": [
            "{expr} = {wrong}. Espera, eso no está bien: {expr} = {value}.",
            "Entonces {expr} da {wrong}... no, lo recalculo: {expr} = {value}.",
        ],
        "filler": ["Mmm.", "Vale.", "Bien.", "Lo compruebo otra vez."],
        "verify": ["Lo verifico.", "Comprobación:"],
    },
    "fr": {
        "plan": [
            "Il y a plusieurs façons de faire. Je ne vais pas trop réfléchir et je choisis une méthode que je peux mener au bout sans erreur.",
            "Avant de calculer, je me demande quelle approche limite les erreurs. D'accord, j'ai une idée.",
        ],
        "recheck": ["Hmm, je vérifie cette étape en la disant autrement.", "C'est juste ? Je refais ce passage."],
        "recap": ["Donc, en résumé, l'étape clé :", "En rassemblant tout :"],
        "opening": ["Bon, réfléchissons.", "Voyons voir.", "D'accord, procédons étape par étape.", ""],
        "detour": [
            "Ma première idée serait de deviner une valeur puis d'ajuster, mais ça risque d'être long. Soyons méthodiques.",
            "Attends, je relis l'énoncé pour être sûr de la question. Oui, c'est bon.",
            "Y a-t-il une astuce ? Je n'en vois pas. Allons-y.",
            "D'abord, je vérifie les données : {given}. C'est ça.",
        ],
        "abandon": [
            "Hmm, non, ça devient compliqué. J'abandonne cette piste et je fais autrement.",
            "En fait, attends : c'est un détour. Je laisse tomber.",
        ],
        "restart": [
            "Attends, ce n'est pas juste. J'ai dû mélanger quelque chose. Je recommence depuis le début, calmement.",
            "Hmm, quelque chose cloche. Je reprends tout depuis le départ.",
        ],
        "slip": [
            "{expr} = {wrong}. Attends, non : {expr} = {value}.",
            "Donc {expr} fait {wrong}... non, je refais le calcul : {expr} = {value}.",
        ],
        "filler": ["Hmm.", "D'accord.", "Bien.", "Je vérifie encore."],
        "verify": ["Vérifions.", "Vérification :"],
    },
    "de": {
        "plan": [
            "Es gibt mehrere Wege. Ich denke nicht zu lange nach und nehme einen, den ich fehlerfrei zu Ende bringe.",
            "Bevor ich rechne: welcher Weg ist am wenigsten fehleranfällig? Okay, ich habe eine Idee.",
        ],
        "recheck": ["Hmm, ich prüfe den Schritt, indem ich ihn anders formuliere.", "Stimmt das? Den Teil mache ich nochmal."],
        "recap": ["Also, der entscheidende Schritt noch einmal:", "Alles zusammen:"],
        "opening": ["Okay, überlegen wir.", "Mal sehen.", "Gut, Schritt für Schritt.", ""],
        "detour": [
            "Mein erster Gedanke wäre, einfach Werte zu raten und anzupassen, aber das dauert womöglich ewig. Lieber systematisch.",
            "Moment, ich lese die Aufgabe noch einmal, damit ich die richtige Frage beantworte. Ja, passt.",
            "Gibt es einen Trick? Ich sehe keinen. Also los.",
            "Zuerst die Angaben prüfen: {given}. Stimmt.",
        ],
        "abandon": [
            "Hmm, nein, das wird unübersichtlich. Ich lasse das und mache es anders.",
            "Eigentlich, Moment: das ist ein Umweg. Verwerfen.",
        ],
        "restart": [
            "Moment, das stimmt nicht. Ich habe wohl etwas vertauscht. Ich fange noch einmal sorgfältig von vorn an.",
            "Hmm, irgendwas passt nicht. Noch einmal von Anfang an.",
        ],
        "slip": [
            "{expr} = {wrong}. Moment, das ist falsch: {expr} = {value}.",
            "Also ergibt {expr} {wrong}... nein, nachrechnen: {expr} = {value}.",
        ],
        "filler": ["Hmm.", "Okay.", "Gut.", "Ich prüfe das nochmal."],
        "verify": ["Probe:", "Kurze Kontrolle:"],
    },
    "zh": {
        "plan": [
            "这题有好几种做法。别想太多，选一种能不出错做完的方法。",
            "先别急着算，想想哪种方法最不容易出错。好，有思路了。",
        ],
        "recheck": ["嗯，换个说法确认一下这一步。", "这样对吗？这一步重做一遍。"],
        "recap": ["总结一下关键步骤：", "整理一下："],
        "opening": ["好，我来想一想。", "嗯，我们看看。", "好的，一步一步来。", ""],
        "detour": [
            "我第一反应是随便猜一个数再调整，但这样可能很慢。还是系统地做吧。",
            "等一下，我再读一遍题目，确认问的是什么。嗯，没问题。",
            "这里有什么技巧吗？好像没有。直接做吧。",
            "先确认一下已知条件：{given}。对。",
        ],
        "abandon": [
            "嗯，不对，这样太乱了。放弃这个思路，换一种方法。",
            "其实等等，这是绕远路了。不用这个。",
        ],
        "restart": [
            "等等，这不对。我好像把什么弄混了。从头再仔细做一遍。",
            "嗯，有点不对劲。从头重新来。",
        ],
        "slip": [
            "{expr} = {wrong}。等等，不对：{expr} = {value}。",
            "所以 {expr} 得 {wrong}……不，重新算一下：{expr} = {value}。",
        ],
        "filler": ["嗯。", "好。", "对。", "再检查一下。"],
        "verify": ["验证一下。", "检查："],
    },
}

# Final-answer forms, drawn independently of the strategy. "{X}" is the value; "{BX}" its nested LaTeX form.
# ``append`` forms continue the body's last sentence; the others follow it on a new line.
ANSWER_FORMS = {
    "boxed": {lang: ["\\boxed{{{X}}}"] for lang in SCAFFOLD},
    "boxed_nested": {lang: ["\\boxed{{{BX}}}"] for lang in SCAFFOLD},
    "so": {"en": [", so {X}"], "es": [", así que {X}"], "fr": [", donc {X}"], "de": [", also {X}"],
           "zh": ["，所以 {X}"]},
    "which_gives": {"en": [" which gives {X}."], "es": [", lo que da {X}."], "fr": [", ce qui donne {X}."],
                    "de": [", was {X} ergibt."], "zh": ["，得到 {X}。"]},
    "bare_line": {lang: ["{X}"] for lang in SCAFFOLD},
    "value_period": {lang: ["{X}."] for lang in SCAFFOLD},
    "answer_is": {"en": ["The answer is {X}", "So the answer is {X}."], "es": ["La respuesta es {X}.", "Así que la respuesta es {X}"],
                  "fr": ["La réponse est {X}.", "Donc la réponse est {X}"], "de": ["Die Antwort ist {X}.", "Also ist die Antwort {X}"],
                  "zh": ["所以答案是 {X}。", "答案是 {X}"]},
    "final_label": {"en": ["Final answer: {X}", "**Answer:** {X}"], "es": ["Respuesta final: {X}"], "fr": ["Réponse finale : {X}"],
                    "de": ["Endergebnis: {X}"], "zh": ["最终答案：{X}"]},
}
APPENDED_FORMS = ("so", "which_gives")


# ---------------------------------------------------------------------------------------------------------
# Family 1: greatest common divisor (math).
# ---------------------------------------------------------------------------------------------------------

def factorise(n: int) -> list[tuple[int, int]]:
    out, p = [], 2
    while n > 1:
        e = 0
        while n % p == 0:
            n, e = n // p, e + 1
        if e:
            out.append((p, e))
        p += 1
    return out


def power_product(factors) -> str:
    return " · ".join(f"{p}^{e}" if e > 1 else str(p) for p, e in factors)


def division_trail(n: int) -> str:
    steps = []
    for p, e in factorise(n):
        for _ in range(e):
            if n == p:
                break
            steps.append(f"{n} ÷ {p} = {n // p}")
            n //= p
    return ", ".join(steps)


def gcd_base(inst):
    a, b = inst
    big, small = max(a, b), min(a, b)
    g = math.gcd(a, b)
    return {"a": a, "b": b, "big": big, "small": small, "answer": str(g), "g": g,
            "given": f"{a}, {b}", "ag": a // g, "bg": b // g}


def gcd_euclid(v):
    x, y, rows = v["big"], v["small"], []
    while y:
        rows.append((x, y, x // y, x % y))
        x, y = y, x % y
    v["chain_eq"] = "\n".join(f"{x} = {q} · {y} + {r}" for x, y, q, r in rows)
    v["chain_mod"] = "\n".join(f"gcd({x}, {y}) → {x} mod {y} = {r}" for x, y, q, r in rows)
    v["first_r"] = rows[0][3]
    x, y, q, r = rows[0]
    return [(1, f"{q} · {y}", q * y)]


def gcd_factors(v):
    fa, fb = dict(factorise(v["a"])), dict(factorise(v["b"]))
    common = sorted((p, min(e, fb[p])) for p, e in fa.items() if p in fb)
    v.update(fa=power_product(factorise(v["a"])), fb=power_product(factorise(v["b"])),
             trail_a=division_trail(v["a"]), trail_b=division_trail(v["b"]), common=power_product(common),
             common_primes=", ".join(str(p) for p, _ in common))
    return [(2, v["common"], v["g"])] if len(common) > 1 or common[0][1] > 1 else []


def gcd_divisors(v):
    small, big = v["small"], v["big"]
    divs = [d for d in range(1, small + 1) if small % d == 0]
    v["divisors"] = ", ".join(map(str, divs))
    v["pairs"] = ", ".join(f"{d} · {small // d}" for d in divs if d * d <= small)
    tests = []
    for d in reversed(divs):
        if big % d:
            tests.append(f"{big} mod {d} = {big % d} ✗")
        else:
            tests.append(f"{big} ÷ {d} = {big // d} ✓")
            break
    v["tests"] = "\n".join(tests)
    v["n_tested"] = len(tests)
    return [(1, f"{v['g']} · {big // v['g']}", big)]


def gcd_subtraction(v):
    x, y, pairs = v["big"], v["small"], []
    while x != y:
        pairs.append(f"({x}, {y})")
        x, y = max(x - y, y), min(x - y, y)
    pairs.append(f"({x}, {y})")
    v["sub_chain"] = " → ".join(pairs)
    v["first_diff"] = v["big"] - v["small"]
    v["n_sub"] = len(pairs) - 1
    return [(1, f"{v['big']} − {v['small']}", v["first_diff"])]


GCD = {
    "name": "gcd", "kind": "math", "languages": ["en", "es", "zh"],
    "prompt": "Find the greatest common divisor of {a} and {b}.",
    "instances": [(84, 360), (126, 198), (252, 105), (391, 299)],
    "wrong": ["24", "9", "7", "13"],
    "base": gcd_base,
    "focus": {
        "en": ["Hmm, but wait, does it ask for the greatest common divisor or the least common multiple? Divisor. Good, so the small number is right."],
        "es": ["Un momento, ¿pide el máximo común divisor o el mínimo común múltiplo? El divisor. Bien."],
        "zh": ["等一下，题目问的是最大公约数还是最小公倍数？是最大公约数。好。"],
    },
    "notes": {
        "en": ["The answer can't be bigger than {small}, the smaller of the two, and it has to divide both exactly.",
               "Both numbers are fairly small, so this should be quick by hand."],
        "es": ["El resultado no puede ser mayor que {small}, el menor de los dos, y tiene que dividir a ambos exactamente."],
        "zh": ["答案不会超过较小的数 {small}，而且必须同时整除两个数。"],
    },
    "restate": {
        "en": ["We need the largest number that divides both {a} and {b}.", "So, gcd({a}, {b}) — the biggest common divisor."],
        "es": ["Buscamos el mayor número que divide a {a} y a {b}."],
        "zh": ["题目要求 {a} 和 {b} 的最大公约数。"],
    },
    "check": {
        "en": ["{a} ÷ {answer} = {ag} and {b} ÷ {answer} = {bg}, and {ag} and {bg} have no common factor, so nothing bigger works.",
               "Both quotients, {ag} and {bg}, are coprime. Good."],
        "es": ["{a} ÷ {answer} = {ag} y {b} ÷ {answer} = {bg}; {ag} y {bg} no tienen factores comunes."],
        "zh": ["{a} ÷ {answer} = {ag}，{b} ÷ {answer} = {bg}，而 {ag} 和 {bg} 互质，没问题。"],
    },
    "strategies": [
        ("euclid", gcd_euclid, [
            {"en": ["I'll use the Euclidean algorithm: divide the bigger number by the smaller and keep only the remainder.",
                    "Repeated division with remainder should be fastest: the pair (x, y) becomes (y, x mod y)."],
             "es": ["Uso el algoritmo de Euclides: divido el mayor entre el menor y me quedo con el resto.",
                    "Voy a dividir con resto una y otra vez: el par (x, y) pasa a ser (y, x mod y), hasta que el resto sea 0."],
             "zh": ["用辗转相除法：大数除以小数，只保留余数，再继续。",
                    "反复做带余除法：(x, y) 变成 (y, x mod y)，直到余数为 0。"]},
            {"en": ["Start with {big} and {small}.\n{chain_eq}",
                    "{big} mod {small} = {first_r}, then keep dividing the divisor by the remainder:\n{chain_mod}"],
             "es": ["Empiezo con {big} y {small}:\n{chain_eq}",
                    "{big} mod {small} = {first_r}; sigo dividiendo el divisor entre el resto:\n{chain_mod}"],
             "zh": ["从 {big} 和 {small} 开始：\n{chain_eq}",
                    "{big} mod {small} = {first_r}，接着用除数除以余数：\n{chain_mod}"]},
            {"en": ["The remainder hit 0, so the last non-zero remainder, {g}, is the gcd.",
                    "Zero remainder reached; the divisor at that point is {g}."],
             "es": ["El resto llegó a 0, así que el último resto no nulo, {g}, es el máximo común divisor.",
                    "Resto cero: el divisor en ese momento, {g}, es la respuesta."],
             "zh": ["余数变成 0 了，所以最后一个非零余数 {g} 就是最大公约数。",
                    "余数为零时的除数是 {g}，就是它。"]},
        ]),
        ("prime_factors", gcd_factors, [
            {"en": ["Let me factor {a} into primes: {trail_a}, so {a} = {fa}.",
                    "Prime factorisation first. {a}: {trail_a}. That gives {a} = {fa}."],
             "es": ["Descompongo {a} en primos: {trail_a}, así que {a} = {fa}.",
                    "Factorizo primero {a}. Divisiones: {trail_a}. Queda {a} = {fa}."],
             "zh": ["先把 {a} 分解质因数：{trail_a}，所以 {a} = {fa}。",
                    "拆开 {a}：{trail_a}。于是 {a} = {fa}。"]},
            {"en": ["Now {b}: {trail_b}, so {b} = {fb}.",
                    "And {b} = {fb} (dividing: {trail_b})."],
             "es": ["Ahora {b}: {trail_b}, o sea {b} = {fb}.",
                    "Y {b} = {fb} (dividiendo: {trail_b})."],
             "zh": ["再分解 {b}：{trail_b}，所以 {b} = {fb}。",
                    "{b} = {fb}（过程：{trail_b}）。"]},
            {"en": ["The shared primes are {common_primes}; taking each with its smaller exponent gives {common} = {g}.",
                    "Common part, lowest powers: {common} = {g}."],
             "es": ["Los primos comunes son {common_primes}; con el menor exponente de cada uno: {common} = {g}.",
                    "Parte común con las potencias más bajas: {common} = {g}."],
             "zh": ["公共质因数是 {common_primes}，每个取较小的指数：{common} = {g}。",
                    "取共同部分的最低次幂：{common} = {g}。"]},
        ]),
        ("list_divisors", gcd_divisors, [
            {"en": ["List every divisor of the smaller number, {small}, in pairs: {pairs}. So: {divisors}.",
                    "Divisors of {small}: {divisors}."],
             "es": ["Escribo todos los divisores de {small} por parejas: {pairs}. Es decir: {divisors}.",
                    "Divisores de {small}: {divisors}."],
             "zh": ["列出较小的数 {small} 的所有因数（成对找）：{pairs}。也就是 {divisors}。",
                    "{small} 的因数有：{divisors}。"]},
            {"en": ["Now test them against {big}, from the largest down:\n{tests}",
                    "Which of these also divide {big}? Going down from the top:\n{tests}"],
             "es": ["Ahora pruebo cuáles dividen a {big}, empezando por el mayor:\n{tests}",
                    "¿Cuáles dividen también a {big}? De mayor a menor:\n{tests}"],
             "zh": ["从最大的开始，看哪个也能整除 {big}：\n{tests}",
                    "哪些也是 {big} 的因数？从大到小试：\n{tests}"]},
            {"en": ["The first one that divides {big} is {g}, so that's the largest common divisor.",
                    "After {n_tested} tries, {g} is the biggest divisor of {small} that also divides {big}."],
             "es": ["El primero que divide a {big} es {g}; ese es el mayor divisor común.",
                    "Tras {n_tested} pruebas, {g} es el mayor divisor de {small} que también divide a {big}."],
             "zh": ["第一个能整除 {big} 的是 {g}，所以它就是最大公约数。",
                    "试了 {n_tested} 次，{g} 是 {small} 的因数里最大的、也能整除 {big} 的。"]},
        ]),
        ("subtraction", gcd_subtraction, [
            {"en": ["A common divisor of two numbers also divides their difference, so I can keep replacing the larger number by the difference.",
                    "gcd(x, y) = gcd(x − y, y) for x > y. Subtract until both are equal."],
             "es": ["Un divisor común de dos números también divide su diferencia, así que cambio el mayor por la diferencia una y otra vez.",
                    "mcd(x, y) = mcd(x − y, y) si x > y. Resto hasta que sean iguales."],
             "zh": ["两个数的公约数也整除它们的差，所以不断用差替换较大的数。",
                    "当 x > y 时 gcd(x, y) = gcd(x − y, y)，一直减到两数相等。"]},
            {"en": ["{big} − {small} = {first_diff}. Continuing:\n{sub_chain}",
                    "Chain of pairs:\n{sub_chain}"],
             "es": ["{big} − {small} = {first_diff}. Sigo:\n{sub_chain}",
                    "Cadena de parejas:\n{sub_chain}"],
             "zh": ["{big} − {small} = {first_diff}。继续：\n{sub_chain}",
                    "依次得到：\n{sub_chain}"]},
            {"en": ["After {n_sub} subtractions both numbers are {g}, so that's the gcd.",
                    "The pair ends equal at ({g}, {g}). Done: {g}."],
             "es": ["Tras {n_sub} restas los dos números valen {g}; ese es el resultado.",
                    "La pareja termina igual en ({g}, {g}). Listo: {g}."],
             "zh": ["减了 {n_sub} 次后两个数都等于 {g}，所以最大公约数是 {g}。",
                    "最后变成 ({g}, {g})，结果是 {g}。"]},
        ]),
    ],
}


# ---------------------------------------------------------------------------------------------------------
# Family 2: a price raised by a% and then lowered by b% (word problem).
# ---------------------------------------------------------------------------------------------------------

def price_base(inst):
    p, a, b = inst
    mid = p * (100 + a) // 100
    final = mid * (100 - b) // 100
    return {"p": p, "a": a, "b": b, "mid": mid, "answer": str(final), "final": final,
            "fa": dec(1 + a / 100), "fb": dec(1 - b / 100), "given": f"{p}, +{a}%, −{b}%"}


def price_factors(v):
    v["fab"] = dec((100 + v["a"]) * (100 - v["b"]) / 10000)
    return [(1, f"{v['fa']} × {v['fb']}", v["fab"])]


def price_amounts(v):
    v["inc"] = v["p"] * v["a"] // 100
    v["cut"] = v["mid"] * v["b"] // 100
    return [(0, f"{v['a']}% · {v['p']}", v["inc"]), (2, f"{v['b']}% · {v['mid']}", v["cut"])]


def price_net(v):
    v["ab100"] = v["a"] * v["b"] // 100
    net = v["a"] - v["b"] - v["ab100"]
    v["net"] = f"{net:+d}"
    v["netfac"] = dec(1 + net / 100)
    return [(1, f"{v['a']} − {v['b']} − {v['ab100']}", net)]


PRICE = {
    "name": "price_change", "kind": "word", "languages": ["en", "fr", "de"],
    "prompt": ("A bicycle costs {p} euros. The shop raises its price by {a}% and later lowers the new price by {b}%. "
               "What is the final price in euros?"),
    "instances": [(200, 10, 20), (150, 20, 10), (80, 25, 40), (240, 50, 30)],
    "wrong": ["180", "160", "64", "250"],
    "base": price_base,
    "focus": {
        "en": ["Wait, do they want the final price or the overall change? The final price, in euros. Okay."],
        "fr": ["Attends, on demande le prix final ou la variation ? Le prix final, en euros. D'accord."],
        "de": ["Moment, gefragt ist der Endpreis oder die Änderung? Der Endpreis in Euro. Gut."],
    },
    "notes": {
        "en": ["Careful: the second percentage applies to the raised price, not to the original {p} euros.",
               "A common trap is to just do {a}% − {b}% on {p}; that ignores that the cut is taken from a different base."],
        "fr": ["Attention : le second pourcentage s'applique au prix augmenté, pas aux {p} euros de départ."],
        "de": ["Vorsicht: der zweite Prozentsatz bezieht sich auf den erhöhten Preis, nicht auf die ursprünglichen {p} Euro."],
    },
    "restate": {
        "en": ["So the price starts at {p} euros, goes up {a}%, then down {b}% from the new price.",
               "Bike at {p} €, +{a}%, then −{b}% on the raised price. Final price?"],
        "fr": ["Le vélo coûte {p} euros, le prix augmente de {a} %, puis baisse de {b} % sur le nouveau prix."],
        "de": ["Das Fahrrad kostet {p} Euro, der Preis steigt um {a} % und sinkt danach um {b} % vom neuen Preis."],
    },
    "check": {
        "en": ["Going backwards: {answer} ÷ {fb} = {mid}, and {mid} ÷ {fa} = {p}. Matches the starting price.",
               "The two changes are not symmetric, so the price should not simply move by {a} − {b} percent. Consistent."],
        "fr": ["À l'envers : {answer} ÷ {fb} = {mid}, puis {mid} ÷ {fa} = {p}. On retrouve bien le prix de départ."],
        "de": ["Rückwärts: {answer} ÷ {fb} = {mid} und {mid} ÷ {fa} = {p}. Das ist der Anfangspreis."],
    },
    "strategies": [
        ("multiply_factors", price_factors, [
            {"en": ["A rise of {a}% means multiplying by {fa}; a cut of {b}% means multiplying by {fb}.",
                    "Percent changes are multipliers: ×{fa} for the increase, ×{fb} for the decrease."],
             "fr": ["Une hausse de {a} % revient à multiplier par {fa}, une baisse de {b} % à multiplier par {fb}.",
                    "Les pourcentages sont des multiplicateurs : ×{fa} pour la hausse, ×{fb} pour la baisse."],
             "de": ["Eine Erhöhung um {a} % heißt mal {fa}, eine Senkung um {b} % heißt mal {fb}.",
                    "Prozentänderungen sind Faktoren: ×{fa} für den Aufschlag, ×{fb} für den Abschlag."]},
            {"en": ["Both together: {fa} × {fb} = {fab}.",
                    "Combined multiplier is {fa} · {fb} = {fab}."],
             "fr": ["Les deux ensemble : {fa} × {fb} = {fab}.",
                    "Multiplicateur global : {fa} · {fb} = {fab}."],
             "de": ["Zusammen: {fa} · {fb} = {fab}.",
                    "Gesamtfaktor: {fa} × {fb} = {fab}."]},
            {"en": ["Apply it once to the original price: {p} × {fab} = {final}.",
                    "{p} · {fab} = {final} euros."],
             "fr": ["J'applique ce facteur au prix initial : {p} × {fab} = {final}.",
                    "{p} · {fab} = {final} euros."],
             "de": ["Auf den Ausgangspreis angewendet: {p} · {fab} = {final}.",
                    "{p} × {fab} = {final} Euro."]},
        ]),
        ("amounts", price_amounts, [
            {"en": ["First the increase in euros: {a}% of {p} is {inc}.",
                    "How much is added? {p} · {a}/100 = {inc} euros."],
             "fr": ["D'abord l'augmentation en euros : {a} % de {p}, c'est {inc}.",
                    "Combien ajoute-t-on ? {p} · {a}/100 = {inc} euros."],
             "de": ["Zuerst der Aufschlag in Euro: {a} % von {p} sind {inc}.",
                    "Wie viel kommt dazu? {p} · {a}/100 = {inc} Euro."]},
            {"en": ["So after the rise the bike costs {p} + {inc} = {mid}.",
                    "New price: {mid} euros ({p} plus {inc})."],
             "fr": ["Après la hausse, le vélo coûte {p} + {inc} = {mid}.",
                    "Nouveau prix : {mid} euros ({p} plus {inc})."],
             "de": ["Nach der Erhöhung kostet das Rad {p} + {inc} = {mid}.",
                    "Neuer Preis: {mid} Euro ({p} plus {inc})."]},
            {"en": ["The reduction is taken from {mid}: {b}% of {mid} = {cut}.",
                    "Discount amount: {mid} · {b}/100 = {cut} euros."],
             "fr": ["La baisse porte sur {mid} : {b} % de {mid} = {cut}.",
                    "Montant de la remise : {mid} · {b}/100 = {cut} euros."],
             "de": ["Der Rabatt bezieht sich auf {mid}: {b} % von {mid} = {cut}.",
                    "Rabattbetrag: {mid} · {b}/100 = {cut} Euro."]},
            {"en": ["Subtract: {mid} − {cut} = {final}.",
                    "That leaves {mid} minus {cut}, i.e. {final} euros."],
             "fr": ["Je soustrais : {mid} − {cut} = {final}.",
                    "Il reste {mid} moins {cut}, soit {final} euros."],
             "de": ["Abziehen: {mid} − {cut} = {final}.",
                    "Bleiben {mid} minus {cut}, also {final} Euro."]},
        ]),
        ("net_percent", price_net, [
            {"en": ["Two successive changes of x% and y% amount to one change of x + y + xy/100 percent. Here x = {a}, y = −{b}.",
                    "Use the successive-percentage rule: net = x + y + x·y/100, with x = +{a} and y = −{b}."],
             "fr": ["Deux variations successives de x % et y % valent une seule variation de x + y + xy/100 %. Ici x = {a}, y = −{b}.",
                    "Règle des pourcentages successifs : net = x + y + x·y/100, avec x = +{a} et y = −{b}."],
             "de": ["Zwei aufeinanderfolgende Änderungen um x % und y % ergeben zusammen x + y + xy/100 Prozent. Hier x = {a}, y = −{b}.",
                    "Regel für aufeinanderfolgende Prozente: netto = x + y + x·y/100, mit x = +{a} und y = −{b}."]},
            {"en": ["Net change: {a} − {b} − {a}·{b}/100 = {a} − {b} − {ab100} = {net}%.",
                    "So {a} − {b} − {ab100} = {net} percent overall."],
             "fr": ["Variation nette : {a} − {b} − {ab100} = {net} %.",
                    "Donc {a} − {b} − {a}·{b}/100 = {net} % au total."],
             "de": ["Gesamtänderung: {a} − {b} − {ab100} = {net} %.",
                    "Also {a} − {b} − {a}·{b}/100 = {net} Prozent insgesamt."]},
            {"en": ["A change of {net}% means {p} × {netfac} = {final}.",
                    "Applying {net}% to {p} gives {p} · {netfac} = {final}."],
             "fr": ["Une variation de {net} % donne {p} × {netfac} = {final}.",
                    "Appliquer {net} % à {p} : {p} · {netfac} = {final}."],
             "de": ["{net} % auf {p}: {p} · {netfac} = {final}.",
                    "Eine Änderung um {net} % bedeutet {p} × {netfac} = {final}."]},
        ]),
    ],
}


# ---------------------------------------------------------------------------------------------------------
# Family 3: two trains approaching each other (word problem).
# ---------------------------------------------------------------------------------------------------------

def trains_base(inst):
    d, v1, v2 = inst
    vs = v1 + v2
    t = Fraction(d, vs)
    d1 = d * v1 // vs
    return {"d": d, "v1": v1, "v2": v2, "vs": vs, "t": frac(t), "answer": frac(t), "tv": t,
            "d1": d1, "d2": d - d1, "given": f"{d} km, {v1} km/h, {v2} km/h"}


def trains_relative(v):
    return [(0, f"{v['v1']} + {v['v2']}", v["vs"])]


def trains_table(v):
    whole = v["tv"].numerator // v["tv"].denominator
    rows, gap = [], v["d"]
    for h in range(1, whole + 1):
        rows.append(f"t = {h} h: {gap} − {v['vs']} = {gap - v['vs']} km")
        gap -= v["vs"]
    v["rows"] = "\n".join(rows)
    v["whole"], v["rest"] = whole, gap
    v["rest_t"] = frac(Fraction(gap, v["vs"]))
    v["exact"] = "exact" if gap == 0 else "partial"
    return [(1, f"{v['d']} − {v['vs']}", v["d"] - v["vs"])]


def trains_ratio(v):
    g = math.gcd(v["v1"], v["v2"])
    v["r1"], v["r2"] = v["v1"] // g, v["v2"] // g
    v["rs"] = v["r1"] + v["r2"]
    return [(1, f"{v['d']} · {v['r1']}/{v['rs']}", v["d1"])]


TRAINS = {
    "name": "trains_meet", "kind": "word", "languages": ["en", "de", "zh"],
    "prompt": ("Two trains leave two towns {d} km apart at the same moment and travel toward each other, one at "
               "{v1} km/h and the other at {v2} km/h. After how many hours do they meet?"),
    "instances": [(300, 70, 50), (280, 45, 75), (360, 55, 65), (440, 60, 50)],
    "wrong": ["2", "7/2", "4", "5"],
    "base": trains_base,
    "focus": {
        "en": ["Hmm, wait, do they ask where they meet or when? When, in hours. Fine."],
        "de": ["Moment, gefragt ist wo oder wann sie sich treffen? Wann, in Stunden. Gut."],
        "zh": ["等等，问的是在哪里相遇还是什么时候相遇？是几小时后。好。"],
    },
    "notes": {
        "en": ["Units: km and km/h, so the answer comes out in hours; it need not be a whole number.",
               "They start at the same moment, so both trains run for the same time until they meet."],
        "de": ["Einheiten: km und km/h, das Ergebnis ist also in Stunden und muss nicht ganzzahlig sein."],
        "zh": ["单位是千米和千米每小时，所以结果是小时数，不一定是整数。"],
    },
    "restate": {
        "en": ["Two trains, {d} km between them, speeds {v1} and {v2} km/h, heading toward each other. When do they meet?",
               "So the gap is {d} km at the start and both trains eat into it."],
        "de": ["Zwei Züge, {d} km voneinander entfernt, fahren mit {v1} und {v2} km/h aufeinander zu. Wann treffen sie sich?"],
        "zh": ["两列火车相距 {d} 千米，速度分别是 {v1} 和 {v2} 千米每小时，相向而行，问几小时后相遇。"],
    },
    "check": {
        "en": ["In {t} h the first train covers {d1} km and the second {d2} km, and {d1} + {d2} = {d}. Yes.",
               "{t} h at a closing speed of {vs} km/h is {d} km. Consistent."],
        "de": ["In {t} h fährt der erste Zug {d1} km und der zweite {d2} km; {d1} + {d2} = {d}. Passt."],
        "zh": ["{t} 小时内第一列车走 {d1} 千米，第二列车走 {d2} 千米，{d1} + {d2} = {d}，对的。"],
    },
    "strategies": [
        ("relative_speed", trains_relative, [
            {"en": ["They move toward each other, so the distance between them shrinks at {v1} + {v2} = {vs} km/h.",
                    "Closing speed: the speeds add, {vs} km/h."],
             "de": ["Sie fahren aufeinander zu, also schrumpft der Abstand mit {v1} + {v2} = {vs} km/h.",
                    "Annäherungsgeschwindigkeit: die Geschwindigkeiten addieren sich, {vs} km/h."],
             "zh": ["两车相向而行，距离每小时缩短 {v1} + {v2} = {vs} 千米。",
                    "两车的接近速度是两速之和，{vs} 千米/小时。"]},
            {"en": ["Time = distance / closing speed = {d} / {vs} = {t} hours.",
                    "{d} km at {vs} km/h takes {d}/{vs} = {t} h."],
             "de": ["Zeit = Abstand / Annäherungsgeschwindigkeit = {d} / {vs} = {t} Stunden.",
                    "{d} km bei {vs} km/h dauern {d}/{vs} = {t} h."],
             "zh": ["时间 = 距离 ÷ 速度和 = {d} ÷ {vs} = {t} 小时。",
                    "{d} 千米按 {vs} 千米/小时，需要 {d}/{vs} = {t} 小时。"]},
        ]),
        ("hour_table", trains_table, [
            {"en": ["Let me just track the gap hour by hour; every hour it drops by {v1} + {v2} = {vs} km.",
                    "Simulate it: each hour the first train does {v1} km and the second {v2} km, {vs} km of gap gone."],
             "de": ["Ich verfolge den Abstand Stunde für Stunde; jede Stunde werden es {vs} km weniger.",
                    "Simulieren: pro Stunde fährt der erste Zug {v1} km, der zweite {v2} km, zusammen {vs} km weniger Abstand."],
             "zh": ["一小时一小时地看剩下的距离，每小时减少 {vs} 千米。",
                    "模拟一下：每小时第一列车走 {v1} 千米，第二列车走 {v2} 千米，距离少 {vs} 千米。"]},
            {"en": ["Gap over time:\n{rows}",
                    "Table of remaining distance:\n{rows}"],
             "de": ["Verlauf des Abstands:\n{rows}",
                    "Tabelle des Restabstands:\n{rows}"],
             "zh": ["剩余距离：\n{rows}",
                    "逐小时列表：\n{rows}"]},
            ("exact", {
                "exact": {"en": ["The gap is exactly 0 after {whole} hours, so they meet then.",
                                 "Zero km left at hour {whole}."],
                          "de": ["Nach {whole} Stunden ist der Abstand genau 0.",
                    "Bei Stunde {whole} sind 0 km übrig."],
                          "zh": ["{whole} 小时后距离正好是 0，相遇。",
                    "第 {whole} 小时剩 0 千米。"]},
                "partial": {"en": ["After {whole} h there are {rest} km left, less than one hour's {vs} km: {rest}/{vs} = {rest_t} h more. Total {whole} + {rest_t} = {t} h.",
                                   "{rest} km remain after hour {whole}; that takes {rest_t} of an hour, so {t} h in all."],
                            "de": ["Nach {whole} h bleiben {rest} km, das dauert noch {rest}/{vs} = {rest_t} h. Zusammen {whole} + {rest_t} = {t} h.",
                    "Nach Stunde {whole} bleiben {rest} km; das ist {rest_t} einer Stunde, also {t} h insgesamt."],
                            "zh": ["{whole} 小时后还剩 {rest} 千米，还需要 {rest}/{vs} = {rest_t} 小时，一共 {whole} + {rest_t} = {t} 小时。",
                    "第 {whole} 小时后剩 {rest} 千米，占一小时的 {rest_t}，总共 {t} 小时。"]},
            }),
        ]),
        ("split_by_ratio", trains_ratio, [
            {"en": ["In the same time, distances are proportional to speeds: {v1} : {v2} = {r1} : {r2}.",
                    "Both run for the same time, so they split the {d} km in the ratio of speeds, {r1}:{r2}."],
             "de": ["In derselben Zeit verhalten sich die Strecken wie die Geschwindigkeiten: {v1} : {v2} = {r1} : {r2}.",
                    "Beide fahren gleich lange, also teilen sie die {d} km im Verhältnis der Geschwindigkeiten, {r1}:{r2}."],
             "zh": ["同样的时间里，路程之比等于速度之比：{v1} : {v2} = {r1} : {r2}。",
                    "两车行驶时间相同，所以 {d} 千米按速度比 {r1}:{r2} 分配。"]},
            {"en": ["The first train's share is {r1}/{rs} of {d}: {d} · {r1}/{rs} = {d1} km (the other does {d2} km).",
                    "So the meeting point is {d1} km from the first town, {d2} km from the second."],
             "de": ["Der erste Zug fährt {r1}/{rs} von {d}: {d} · {r1}/{rs} = {d1} km, der zweite {d2} km.",
                    "Treffpunkt also {d1} km von der ersten Stadt, {d2} km von der zweiten."],
             "zh": ["第一列车走全程的 {r1}/{rs}：{d} × {r1}/{rs} = {d1} 千米，第二列车走 {d2} 千米。",
                    "相遇点离第一个城市 {d1} 千米，离第二个城市 {d2} 千米。"]},
            {"en": ["Time for the first train to cover {d1} km at {v1} km/h: {d1}/{v1} = {t} h.",
                    "{d1} ÷ {v1} = {t} hours."],
             "de": ["Dafür braucht er {d1} / {v1} = {t} Stunden.",
                    "{d1} ÷ {v1} = {t} Stunden."],
             "zh": ["所用时间：{d1} ÷ {v1} = {t} 小时。",
                    "{d1} ÷ {v1} = {t}，单位是小时。"]},
        ]),
    ],
}


# ---------------------------------------------------------------------------------------------------------
# Family 4: mixing two acid solutions (word problem).
# ---------------------------------------------------------------------------------------------------------

def mixture_base(inst):
    a, b, c, T = inst
    x = T * (b - c) // (b - a)
    y = T - x
    return {"a": a, "b": b, "c": c, "T": T, "x": x, "y": y, "answer": str(x),
            "acid_x": dec(a * x / 100), "acid_y": dec(b * y / 100), "acid": dec(c * T / 100),
            "given": f"{a}%, {b}%, {T} L, {c}%"}


def mixture_one_variable(v):
    v["bT"], v["cT"], v["ba"] = v["b"] * v["T"], v["c"] * v["T"], v["b"] - v["a"]
    v["rhs"] = v["bT"] - v["cT"]
    return [(1, f"{v['b']} · {v['T']}", v["bT"]), (2, f"{v['rhs']} / {v['ba']}", v["x"])]


def mixture_alligation(v):
    v["db"], v["da"] = v["b"] - v["c"], v["c"] - v["a"]
    g = math.gcd(v["db"], v["da"])
    v["r1"], v["r2"] = v["db"] // g, v["da"] // g
    v["rs"] = v["r1"] + v["r2"]
    return [(0, f"{v['b']} − {v['c']}", v["db"]), (2, f"{v['T']} · {v['r1']}/{v['rs']}", v["x"])]


def mixture_two_equations(v):
    v["aT"], v["cT"], v["ba"] = v["a"] * v["T"], v["c"] * v["T"], v["b"] - v["a"]
    v["diff"] = v["cT"] - v["aT"]
    return [(1, f"{v['c']} · {v['T']}", v["cT"]), (1, f"{v['diff']} / {v['ba']}", v["y"])]


MIXTURE = {
    "name": "acid_mixture", "kind": "word", "languages": ["en", "es", "fr"],
    "prompt": ("How many litres of a {a}% acid solution must be mixed with a {b}% acid solution to obtain {T} litres "
               "of a {c}% acid solution?"),
    "instances": [(10, 40, 25, 30), (20, 50, 30, 60), (5, 25, 20, 40), (30, 70, 40, 80)],
    "wrong": ["12", "20", "30", "20"],
    "base": mixture_base,
    "focus": {
        "en": ["Wait, which amount do they want, the {a}% one or the {b}% one? The {a}% solution. Okay."],
        "es": ["Espera, ¿qué cantidad piden, la del {a}% o la del {b}%? La del {a}%. Vale."],
        "fr": ["Attends, quelle quantité demande-t-on, celle à {a} % ou celle à {b} % ? Celle à {a} %. D'accord."],
    },
    "notes": {
        "en": ["The target {c}% lies between {a}% and {b}%, so some mix of the two works, and the amounts must add to {T} L.",
               "Percentages of acid, litres of solution; I'll keep the acid amounts in percent-litres to avoid decimals."],
        "es": ["El {c}% está entre el {a}% y el {b}%, así que la mezcla es posible, y los volúmenes deben sumar {T} L."],
        "fr": ["La cible {c} % est entre {a} % et {b} %, donc un mélange convient, et les volumes doivent faire {T} L."],
    },
    "restate": {
        "en": ["We mix a {a}% solution with a {b}% one and want {T} L at {c}%. How much of the {a}% one?",
               "Target: {T} litres, {c}% acid, from {a}% and {b}% stock."],
        "es": ["Mezclamos una solución al {a}% con otra al {b}% para obtener {T} litros al {c}%. ¿Cuánto de la primera?"],
        "fr": ["On mélange une solution à {a} % et une à {b} % pour obtenir {T} litres à {c} %. Combien de la première ?"],
    },
    "check": {
        "en": ["{x} L at {a}% holds {acid_x} L of acid and {y} L at {b}% holds {acid_y} L; together {acid} L in {T} L, which is {c}%.",
               "{c}% lies between {a}% and {b}%, and the amount of each is positive. Fine."],
        "es": ["{x} L al {a}% tienen {acid_x} L de ácido y {y} L al {b}% tienen {acid_y} L; en total {acid} L en {T} L, o sea el {c}%."],
        "fr": ["{x} L à {a} % contiennent {acid_x} L d'acide et {y} L à {b} % en contiennent {acid_y} L : {acid} L sur {T} L, soit {c} %."],
    },
    "strategies": [
        ("one_variable", mixture_one_variable, [
            {"en": ["Let x be the litres of the {a}% solution; then {T} − x litres of the {b}% one.",
                    "Call the unknown amount of {a}% solution x, so the rest, {T} − x, is {b}%."],
             "es": ["Sea x los litros de la solución al {a}%; entonces hay {T} − x litros de la del {b}%.",
                    "Llamo x a la cantidad de solución al {a}%, así que el resto, {T} − x, es al {b}%."],
             "fr": ["Soit x le nombre de litres à {a} % ; il reste {T} − x litres à {b} %.",
                    "J'appelle x la quantité de solution à {a} % ; le reste, {T} − x, est à {b} %."]},
            {"en": ["Acid balance (in percent-litres): {a}x + {b}({T} − x) = {c} · {T}, i.e. {a}x + {bT} − {b}x = {cT}.",
                    "The acid adds up: {a}·x + {b}·({T} − x) = {c}·{T} → {a}x + {bT} − {b}x = {cT}."],
             "es": ["Balance de ácido: {a}x + {b}({T} − x) = {c} · {T}, es decir {a}x + {bT} − {b}x = {cT}.",
                    "El ácido se suma: {a}·x + {b}·({T} − x) = {c}·{T} → {a}x + {bT} − {b}x = {cT}."],
             "fr": ["Bilan d'acide : {a}x + {b}({T} − x) = {c} × {T}, soit {a}x + {bT} − {b}x = {cT}.",
                    "L'acide s'additionne : {a}·x + {b}·({T} − x) = {c}·{T} → {a}x + {bT} − {b}x = {cT}."]},
            {"en": ["Collect x: −{ba}x = {cT} − {bT} = −{rhs}, so x = {rhs}/{ba} = {x}.",
                    "So {ba}x = {bT} − {cT} = {rhs} and x = {x} litres."],
             "es": ["Agrupo: −{ba}x = {cT} − {bT} = −{rhs}, luego x = {rhs}/{ba} = {x}.",
                    "Entonces {ba}x = {bT} − {cT} = {rhs} y x = {x} litros."],
             "fr": ["En regroupant : −{ba}x = {cT} − {bT} = −{rhs}, donc x = {rhs}/{ba} = {x}.",
                    "Donc {ba}x = {bT} − {cT} = {rhs} et x = {x} litres."]},
        ]),
        ("alligation", mixture_alligation, [
            {"en": ["Distances from the target: the {b}% solution is {b} − {c} = {db} points above, the {a}% one {c} − {a} = {da} below.",
                    "Alligation: {c} sits {da} points above {a} and {db} points below {b}."],
             "es": ["Distancias al objetivo: {b} − {c} = {db} y {c} − {a} = {da}.",
                    "Regla de aligación: {c} está {da} puntos por encima de {a} y {db} por debajo de {b}."],
             "fr": ["Écarts à la cible : {b} − {c} = {db} et {c} − {a} = {da}.",
                    "Règle des mélanges : {c} est à {da} points au-dessus de {a} et à {db} points sous {b}."]},
            {"en": ["The amounts go crosswise, {a}% : {b}% = {db} : {da} = {r1} : {r2}.",
                    "Cross the differences: the weaker solution gets {db} parts, the stronger {da} parts, i.e. {r1}:{r2}."],
             "es": ["Las cantidades van en cruz: {a}% : {b}% = {db} : {da} = {r1} : {r2}.",
                    "Cruzo las diferencias: la solución más débil lleva {db} partes, la más fuerte {da}, o sea {r1}:{r2}."],
             "fr": ["Les quantités se croisent : {a} % : {b} % = {db} : {da} = {r1} : {r2}.",
                    "On croise les écarts : la solution faible reçoit {db} parts, la forte {da}, soit {r1}:{r2}."]},
            {"en": ["Of {T} litres that is {T} · {r1}/{rs} = {x} L of the {a}% solution and {y} L of the other.",
                    "{rs} parts make {T} L; the {a}% solution has {r1} of them: {x} L."],
             "es": ["De {T} litros: {T} · {r1}/{rs} = {x} L de la solución al {a}% y {y} L de la otra.",
                    "{rs} partes son {T} L; la del {a}% tiene {r1}: {x} L."],
             "fr": ["Sur {T} litres : {T} × {r1}/{rs} = {x} L de la solution à {a} % et {y} L de l'autre.",
                    "{rs} parts font {T} L ; celle à {a} % en a {r1} : {x} L."]},
        ]),
        ("two_equations", mixture_two_equations, [
            {"en": ["Two unknowns: x litres at {a}%, y litres at {b}%. Volume: x + y = {T}. Acid: {a}x + {b}y = {c}·{T} = {cT}.",
                    "System: x + y = {T} and {a}x + {b}y = {cT}."],
             "es": ["Dos incógnitas, x al {a}% e y al {b}%: x + y = {T} y {a}x + {b}y = {cT}.",
                    "Sistema: x + y = {T} y {a}x + {b}y = {cT}."],
             "fr": ["Deux inconnues, x à {a} % et y à {b} % : x + y = {T} et {a}x + {b}y = {cT}.",
                    "Système : x + y = {T} et {a}x + {b}y = {cT}."]},
            {"en": ["Multiply the first by {a}: {a}x + {a}y = {aT}. Subtract from the second: {ba}y = {cT} − {aT} = {diff}, so y = {y}.",
                    "Eliminate x: ({b} − {a})y = {cT} − {aT}, {ba}y = {diff}, y = {y}."],
             "es": ["Multiplico la primera por {a}: {a}x + {a}y = {aT}. Resto: {ba}y = {cT} − {aT} = {diff}, y = {y}.",
                    "Elimino x: ({b} − {a})y = {cT} − {aT}, {ba}y = {diff}, y = {y}."],
             "fr": ["Je multiplie la première par {a} : {a}x + {a}y = {aT}. En soustrayant : {ba}y = {cT} − {aT} = {diff}, y = {y}.",
                    "J'élimine x : ({b} − {a})y = {cT} − {aT}, {ba}y = {diff}, y = {y}."]},
            {"en": ["Then x = {T} − {y} = {x}.", "Back-substitute: x = {T} − y = {x} litres."],
             "es": ["Entonces x = {T} − {y} = {x}.",
                    "Sustituyo: x = {T} − y = {x} litros."],
             "fr": ["Alors x = {T} − {y} = {x}.",
                    "En remplaçant : x = {T} − y = {x} litres."]},
        ]),
    ],
}


# ---------------------------------------------------------------------------------------------------------
# Family 5: counting the 1 bits of n in Python (code).
# ---------------------------------------------------------------------------------------------------------

def bits_base(inst):
    (n,) = inst
    return {"n": n, "binary": bin(n)[2:], "answer": str(bin(n).count("1")), "ones": bin(n).count("1"),
            "given": f"n = {n}"}


def bits_divide(v):
    m, lines, bits = v["n"], [], []
    while m:
        lines.append(f"{m} % 2 = {m % 2}, {m} // 2 = {m // 2}")
        bits.append(str(m % 2))
        m //= 2
    v["trace"] = "\n".join(lines)
    v["bit_sum"] = " + ".join(bits)
    v["steps_n"] = len(lines)
    return [(1, f"{v['n']} // 2", v["n"] // 2)]


def bits_string(v):
    v["bin_repr"] = f"'0b{v['binary']}'"
    v["zeros"] = v["binary"].count("0")
    v["length"] = len(v["binary"])
    return []


def bits_clear_lowest(v):
    m, lines = v["n"], []
    while m:
        lines.append(f"{m} & {m - 1} = {m & (m - 1)}")
        m &= m - 1
    v["trace"] = "\n".join(lines)
    return [(1, f"{v['n']} & {v['n'] - 1}", v["n"] & (v["n"] - 1))]


def bits_powers(v):
    m, lines, used = v["n"], [], []
    while m:
        p = 1 << (m.bit_length() - 1)
        lines.append(f"{m} − {p} = {m - p}")
        used.append(str(p))
        m -= p
    v["trace"] = "\n".join(lines)
    v["powers"] = " + ".join(used)
    v["top"] = used[0]
    v["next_power"] = 2 * int(used[0])
    return [(1, f"{v['n']} − {v['top']}", v["n"] - int(v["top"]))]


BITS = {
    "name": "bit_count_code", "kind": "code", "languages": ["en", "es", "de"],
    "prompt": ("Write a Python function that returns the number of 1 bits in the binary representation of a "
               "non-negative integer n, and give its value for n = {n}."),
    "instances": [(45,), (200,), (99,), (187,)],
    "wrong": ["5", "4", "3", "7"],
    "base": bits_base,
    "focus": {
        "en": ["Hmm, they want both the function and its value at {n}; the value is what I report at the end."],
        "es": ["Piden la función y también su valor para {n}; al final doy el valor."],
        "de": ["Gefragt sind die Funktion und ihr Wert für {n}; am Ende nenne ich den Wert."],
    },
    "notes": {
        "en": ["n is non-negative, so there is no sign bit to worry about, and {n} fits in a handful of bits.",
               "Python ints are unbounded, but for {n} the loop runs only a few times anyway."],
        "es": ["n no es negativo, así que no hay bit de signo; {n} cabe en pocos bits."],
        "de": ["n ist nicht negativ, also kein Vorzeichenbit; {n} passt in wenige Bits."],
    },
    "restate": {
        "en": ["We need popcount(n) in Python, and then the result for n = {n}.",
               "Count the ones in the binary form of n; then evaluate at {n}."],
        "es": ["Hay que contar los bits a 1 de n en Python y dar el resultado para n = {n}."],
        "de": ["Gesucht ist eine Python-Funktion, die die Einsen in der Binärdarstellung von n zählt, und ihr Wert für n = {n}."],
    },
    "check": {
        "en": ["Edge cases: n = 0 gives 0, n = 7 gives 3, n = 8 gives 1. The function handles those.",
               "Small tests in my head: f(0) = 0, f(1) = 1, f(6) = 2. Fine."],
        "es": ["Casos límite: n = 0 da 0, n = 7 da 3, n = 8 da 1. Funciona."],
        "de": ["Randfälle: n = 0 ergibt 0, n = 7 ergibt 3, n = 8 ergibt 1. Passt."],
    },
    "strategies": [
        ("divide_by_two", bits_divide, [
            {"en": ["Peel off the last binary digit with % 2 and shift with // 2:\n```python\ndef count_ones(n):\n    count = 0\n    while n > 0:\n        count += n % 2\n        n //= 2\n    return count\n```",
                    "Repeated division by two, adding each remainder:\n```python\ndef popcount(x):\n    total = 0\n    while x:\n        total += x % 2   # last binary digit\n        x = x // 2\n    return total\n```"],
             "es": ["Saco el último dígito binario con % 2 y divido entre 2:\n```python\ndef contar_unos(n):\n    cuenta = 0\n    while n > 0:\n        cuenta += n % 2   # último dígito binario\n        n //= 2\n    return cuenta\n```",
                    "División repetida entre dos, sumando cada resto:\n```python\ndef popcount(x):\n    total = 0\n    while x:\n        total += x % 2   # resto = último bit\n        x = x // 2\n    return total\n```"],
             "de": ["Letzte Binärziffer mit % 2 abtrennen, dann durch 2 teilen:\n```python\ndef einsen(n):\n    anzahl = 0\n    while n > 0:\n        anzahl += n % 2   # letzte Binärziffer\n        n //= 2\n    return anzahl\n```",
                    "Wiederholtes Halbieren, jeden Rest aufaddieren:\n```python\ndef popcount(x):\n    summe = 0\n    while x:\n        summe += x % 2   # Rest = letztes Bit\n        x = x // 2\n    return summe\n```"]},
            {"en": ["Trace for n = {n}:\n{trace}", "Running it on {n}, remainder and quotient each round:\n{trace}"],
             "es": ["Traza para n = {n}:\n{trace}",
                    "Ejecutándolo con {n}, resto y cociente en cada vuelta:\n{trace}"],
             "de": ["Ablauf für n = {n}:\n{trace}",
                    "Mit {n} ausgeführt, Rest und Quotient pro Runde:\n{trace}"]},
            {"en": ["Sum of the remainders: {bit_sum} = {ones}.", "{steps_n} rounds; the remainders add to {ones}."],
             "es": ["Suma de los restos: {bit_sum} = {ones}.",
                    "{steps_n} vueltas; los restos suman {ones}."],
             "de": ["Summe der Reste: {bit_sum} = {ones}.",
                    "{steps_n} Runden; die Reste ergeben zusammen {ones}."]},
        ]),
        ("bin_string", bits_string, [
            {"en": ["Easiest is to let Python write the binary string and count the character '1':\n```python\ndef count_ones(n):\n    return bin(n).count(\"1\")\n```",
                    "String approach:\n```python\ndef popcount(x):\n    digits = format(x, \"b\")\n    return digits.count(\"1\")\n```"],
             "es": ["Lo más fácil: que Python escriba la cadena binaria y contar los '1':\n```python\ndef contar_unos(n):\n    return bin(n).count(\"1\")  # cadena binaria\n```",
                    "Con cadenas:\n```python\ndef popcount(x):\n    digitos = format(x, \"b\")\n    return digitos.count(\"1\")\n```"],
             "de": ["Am einfachsten: Python die Binärzeichenkette erzeugen lassen und die '1' zählen:\n```python\ndef einsen(n):\n    return bin(n).count(\"1\")  # Binärstring\n```",
                    "Über Zeichenketten:\n```python\ndef popcount(x):\n    ziffern = format(x, \"b\")\n    return ziffern.count(\"1\")\n```"]},
            {"en": ["For {n}: bin({n}) = {bin_repr}.", "format({n}, \"b\") is \"{binary}\", {length} characters."],
             "es": ["Para {n}: bin({n}) = {bin_repr}.",
                    "format({n}, \"b\") es \"{binary}\", {length} caracteres."],
             "de": ["Für {n}: bin({n}) = {bin_repr}.",
                    "format({n}, \"b\") ergibt \"{binary}\", {length} Zeichen."]},
            {"en": ["Counting the '1' characters in {binary}: {ones} of them ({zeros} zeros).",
                    "\"{binary}\".count(\"1\") = {ones}."],
             "es": ["Cuento los caracteres '1' en {binary}: hay {ones} (y {zeros} ceros).",
                    "\"{binary}\".count(\"1\") devuelve {ones}."],
             "de": ["Die Zeichen '1' in {binary}: {ones} Stück ({zeros} Nullen).",
                    "\"{binary}\".count(\"1\") liefert {ones}."]},
        ]),
        ("clear_lowest_bit", bits_clear_lowest, [
            {"en": ["n & (n - 1) clears the lowest set bit, so count how many times that can happen before n is 0:\n```python\ndef count_ones(n):\n    count = 0\n    while n:\n        n &= n - 1\n        count += 1\n    return count\n```",
                    "Kernighan's trick, one loop per set bit:\n```python\ndef popcount(x):\n    k = 0\n    while x != 0:\n        x = x & (x - 1)   # drop lowest 1\n        k += 1\n    return k\n```"],
             "es": ["n & (n - 1) borra el bit 1 más bajo; cuento cuántas veces hasta llegar a 0:\n```python\ndef contar_unos(n):\n    cuenta = 0\n    while n:\n        n &= n - 1   # borra el 1 más bajo\n        cuenta += 1\n    return cuenta\n```",
                    "El truco de Kernighan, una vuelta por cada bit a 1:\n```python\ndef popcount(x):\n    k = 0\n    while x != 0:\n        x = x & (x - 1)   # quita el 1 más bajo\n        k += 1\n    return k\n```"],
             "de": ["n & (n - 1) löscht das niedrigste gesetzte Bit; ich zähle, wie oft das geht, bis n 0 ist:\n```python\ndef einsen(n):\n    anzahl = 0\n    while n:\n        n &= n - 1   # niedrigste 1 löschen\n        anzahl += 1\n    return anzahl\n```",
                    "Kernighans Trick, eine Runde pro gesetztem Bit:\n```python\ndef popcount(x):\n    k = 0\n    while x != 0:\n        x = x & (x - 1)   # unterste 1 weg\n        k += 1\n    return k\n```"]},
            {"en": ["Trace for {n}:\n{trace}", "Step by step, starting from {n}:\n{trace}"],
             "es": ["Traza para {n}:\n{trace}",
                    "Paso a paso desde {n}:\n{trace}"],
             "de": ["Ablauf ab {n}:\n{trace}",
                    "Schritt für Schritt ab {n}:\n{trace}"]},
            {"en": ["It reached 0 after {ones} iterations, so {ones}.", "{ones} loop iterations, hence {ones} set bits."],
             "es": ["Llega a 0 tras {ones} iteraciones.",
                    "{ones} iteraciones, luego {ones} bits a 1."],
             "de": ["Nach {ones} Durchläufen ist n = 0.",
                    "{ones} Schleifendurchläufe, also {ones} gesetzte Bits."]},
        ]),
        ("powers_of_two", bits_powers, [
            {"en": ["Another way: every 1 bit is a distinct power of two, so repeatedly subtract the largest power of two that fits and count:\n```python\ndef count_ones(n):\n    count = 0\n    while n > 0:\n        p = 1\n        while p * 2 <= n:\n            p *= 2\n        n -= p\n        count += 1\n    return count\n```",
                    "Greedy decomposition into powers of two:\n```python\ndef popcount(x):\n    pieces = 0\n    while x:\n        p = 1 << (x.bit_length() - 1)   # largest power <= x\n        x -= p\n        pieces += 1\n    return pieces\n```"],
             "es": ["Cada bit 1 es una potencia de dos distinta: resto la mayor potencia de dos que cabe y cuento:\n```python\ndef contar_unos(n):\n    cuenta = 0\n    while n > 0:\n        p = 1\n        while p * 2 <= n:\n            p *= 2   # mayor potencia de dos\n        n -= p\n        cuenta += 1\n    return cuenta\n```",
                    "Descomposición voraz en potencias de dos:\n```python\ndef popcount(x):\n    piezas = 0\n    while x:\n        p = 1 << (x.bit_length() - 1)   # mayor potencia <= x\n        x -= p\n        piezas += 1\n    return piezas\n```"],
             "de": ["Jede 1 ist eine eigene Zweierpotenz: größte passende Zweierpotenz abziehen und zählen:\n```python\ndef einsen(n):\n    anzahl = 0\n    while n > 0:\n        p = 1\n        while p * 2 <= n:\n            p *= 2   # größte Zweierpotenz\n        n -= p\n        anzahl += 1\n    return anzahl\n```",
                    "Gierige Zerlegung in Zweierpotenzen:\n```python\ndef popcount(x):\n    teile = 0\n    while x:\n        p = 1 << (x.bit_length() - 1)   # größte Potenz <= x\n        x -= p\n        teile += 1\n    return teile\n```"]},
            {"en": ["For {n}: {top} ≤ {n} < {next_power}, so start with {top}.\n{trace}", "Subtracting powers from {n}:\n{trace}"],
             "es": ["Para {n}: {top} ≤ {n} < {next_power}.\n{trace}",
                    "Restando potencias a {n}:\n{trace}"],
             "de": ["Für {n}: {top} ≤ {n} < {next_power}.\n{trace}",
                    "Zweierpotenzen von {n} abziehen:\n{trace}"]},
            {"en": ["So {n} = {powers}, {ones} powers of two.", "{ones} subtractions reach zero."],
             "es": ["Así {n} = {powers}: {ones} potencias de dos.",
                    "{ones} restas llegan a cero."],
             "de": ["Also {n} = {powers}, das sind {ones} Zweierpotenzen.",
                    "Nach {ones} Subtraktionen ist nichts mehr übrig."]},
        ]),
    ],
}


# ---------------------------------------------------------------------------------------------------------
# Family 6: counting monotone lattice paths in Python (code).
# ---------------------------------------------------------------------------------------------------------

def paths_base(inst):
    m, n = inst
    return {"m": m, "n": n, "mn": m + n, "answer": str(math.comb(m + n, m)), "count": math.comb(m + n, m),
            "given": f"m = {m}, n = {n}"}


def paths_binomial(v):
    m, n = v["m"], v["n"]
    k = min(m, n)
    top = [str(v["mn"] - i) for i in range(k)]
    v["k"] = k
    v["falling"] = " · ".join(top)
    v["falling_value"] = math.prod(range(v["mn"] - k + 1, v["mn"] + 1))
    v["k_fact"] = " · ".join(str(i) for i in range(k, 0, -1))
    v["k_fact_value"] = math.factorial(k)
    v["fact_mn"], v["fact_m"], v["fact_n"] = math.factorial(v["mn"]), math.factorial(m), math.factorial(n)
    return [(1, v["falling"], v["falling_value"])]


def paths_table(v):
    m, n = v["m"], v["n"]
    rows = [[math.comb(i + j, i) for j in range(n + 1)] for i in range(m + 1)]
    v["rows"] = "\n".join(" ".join(f"{x:>3}" for x in row) for row in rows)
    v["left"], v["up"] = rows[m][n - 1], rows[m - 1][n]
    v["second_row"] = " ".join(map(str, rows[1]))
    return [(2, f"{v['up']} + {v['left']}", v["count"])]


def paths_recursion(v):
    m, n = v["m"], v["n"]

    def f(i, j):
        return math.comb(i + j, i)

    v["up"], v["left"] = f(m - 1, n), f(m, n - 1)
    v["unfold"] = "\n".join([
        f"paths({m}, {n}) = paths({m - 1}, {n}) + paths({m}, {n - 1})",
        f"paths({m - 1}, {n}) = paths({m - 2}, {n}) + paths({m - 1}, {n - 1}) = {f(m - 2, n)} + {f(m - 1, n - 1)} = {f(m - 1, n)}",
        f"paths({m}, {n - 1}) = paths({m - 1}, {n - 1}) + paths({m}, {n - 2}) = {f(m - 1, n - 1)} + {f(m, n - 2)} = {f(m, n - 1)}",
    ])
    v["states"] = (m + 1) * (n + 1)
    return [(1, f"{f(m - 2, n)} + {f(m - 1, n - 1)}", f(m - 1, n))]


PATHS = {
    "name": "grid_paths_code", "kind": "code", "languages": ["en", "fr", "zh"],
    "prompt": ("Write a Python function paths(m, n) that counts the ways to walk from the top-left to the bottom-right "
               "corner of an m × n grid of unit squares, moving only down or right along the grid lines, and give "
               "paths({m}, {n})."),
    "instances": [(3, 4), (2, 5), (4, 4), (3, 5)],
    "wrong": ["34", "20", "72", "55"],
    "base": paths_base,
    "focus": {
        "en": ["Wait, is it moves along the lines (corner to corner) or through the cells? Along the lines, so {m} downs and {n} rights."],
        "fr": ["Attends, on se déplace sur les lignes ou dans les cases ? Sur les lignes : {m} pas vers le bas et {n} vers la droite."],
        "zh": ["等等，是沿着格线走还是在格子里走？沿格线，所以向下 {m} 步、向右 {n} 步。"],
    },
    "notes": {
        "en": ["Every path has exactly {mn} unit moves: {m} down and {n} right, in some order.",
               "Only down and right, so no path can revisit a point; the count is finite and not too big."],
        "fr": ["Chaque chemin fait exactement {mn} pas : {m} vers le bas et {n} vers la droite, dans un certain ordre."],
        "zh": ["每条路径恰好走 {mn} 步：向下 {m} 步，向右 {n} 步，只是顺序不同。"],
    },
    "restate": {
        "en": ["So: monotone lattice paths across a {m} by {n} grid, as a Python function, then the value for ({m}, {n}).",
               "Count down/right walks from one corner of the {m} × {n} grid to the opposite one."],
        "fr": ["Il faut compter les chemins monotones dans une grille {m} × {n}, écrire la fonction Python, puis donner paths({m}, {n})."],
        "zh": ["要写一个 Python 函数数出 {m} × {n} 网格中只向下或向右走的路径数，再给出 paths({m}, {n})。"],
    },
    "check": {
        "en": ["Small cases: paths(1, 1) = 2 and paths(1, 2) = 3, which I can draw by hand. The function agrees.",
               "Symmetry: paths({m}, {n}) should equal paths({n}, {m}), and nothing in the method breaks that. Good."],
        "fr": ["Petits cas : paths(1, 1) = 2 et paths(1, 2) = 3, qu'on peut dessiner à la main. La fonction est d'accord."],
        "zh": ["小例子：paths(1, 1) = 2，paths(1, 2) = 3，手画一下也是这样。函数没问题。"],
    },
    "strategies": [
        ("binomial", paths_binomial, [
            {"en": ["A path is a word of {mn} letters with {m} D's and {n} R's, so the count is a binomial coefficient:\n```python\nfrom math import comb\n\ndef paths(m, n):\n    return comb(m + n, m)\n```",
                    "Choose which of the {mn} moves are the downward ones:\n```python\nimport math\n\ndef paths(m, n):\n    return math.factorial(m + n) // (math.factorial(m) * math.factorial(n))\n```"],
             "fr": ["Un chemin est un mot de {mn} lettres avec {m} B et {n} D : c'est un coefficient binomial.\n```python\nfrom math import comb\n\ndef paths(m, n):\n    return comb(m + n, m)  # choisir les pas vers le bas\n```",
                    "On choisit lesquels des {mn} pas descendent :\n```python\nimport math\n\ndef paths(m, n):\n    return math.factorial(m + n) // (math.factorial(m) * math.factorial(n))\n```"],
             "zh": ["每条路径就是 {m} 个“下”和 {n} 个“右”的排列，所以是组合数：\n```python\nfrom math import comb\n\ndef paths(m, n):\n    return comb(m + n, m)  # 选出向下的步\n```",
                    "在 {mn} 步里选出哪几步向下：\n```python\nimport math\n\ndef paths(m, n):\n    return math.factorial(m + n) // (math.factorial(m) * math.factorial(n))\n```"]},
            {"en": ["C({mn}, {k}) = ({falling}) / ({k_fact}) = {falling_value} / {k_fact_value} = {count}.",
                    "{mn}! / ({m}! · {n}!) = {fact_mn} / ({fact_m} · {fact_n}) = {count}."],
             "fr": ["C({mn}, {k}) = ({falling}) / ({k_fact}) = {falling_value} / {k_fact_value} = {count}.",
                    "{mn}! / ({m}! · {n}!) = {fact_mn} / ({fact_m} · {fact_n}), ce qui fait {count}."],
             "zh": ["C({mn}, {k}) = ({falling}) / ({k_fact}) = {falling_value} / {k_fact_value} = {count}。",
                    "{mn}! / ({m}! · {n}!) = {fact_mn} / ({fact_m} · {fact_n}) = {count}。"]},
            {"en": ["So comb({mn}, {m}) returns {count}.", "That is {count} arrangements of the moves."],
             "fr": ["Donc comb({mn}, {m}) renvoie {count}.", "Cela fait {count} façons d'ordonner les pas."],
             "zh": ["所以 comb({mn}, {m}) 返回 {count}。", "也就是 {count} 种排列方式。"]},
        ]),
        ("dp_table", paths_table, [
            {"en": ["Dynamic programming: the number of ways into a point is the ways into the point above plus the point to the left.\n```python\ndef paths(m, n):\n    table = [[1] * (n + 1) for _ in range(m + 1)]\n    for i in range(1, m + 1):\n        for j in range(1, n + 1):\n            table[i][j] = table[i - 1][j] + table[i][j - 1]\n    return table[m][n]\n```",
                    "Fill a grid of counts row by row, edges are all 1:\n```python\ndef paths(m, n):\n    row = [1] * (n + 1)\n    for _ in range(m):\n        for j in range(1, n + 1):\n            row[j] += row[j - 1]   # above + left\n    return row[n]\n```"],
             "fr": ["Programmation dynamique : le nombre de chemins vers un point est la somme de ceux vers le point du dessus et vers celui de gauche.\n```python\ndef paths(m, n):\n    table = [[1] * (n + 1) for _ in range(m + 1)]\n    for i in range(1, m + 1):\n        for j in range(1, n + 1):\n            table[i][j] = table[i - 1][j] + table[i][j - 1]  # dessus + gauche\n    return table[m][n]\n```",
                    "Je remplis un tableau ligne par ligne, les bords valent 1 :\n```python\ndef paths(m, n):\n    ligne = [1] * (n + 1)\n    for _ in range(m):\n        for j in range(1, n + 1):\n            ligne[j] += ligne[j - 1]\n    return ligne[n]\n```"],
             "zh": ["动态规划：到达一个点的路径数 = 上面那个点的路径数 + 左边那个点的路径数。\n```python\ndef paths(m, n):\n    table = [[1] * (n + 1) for _ in range(m + 1)]\n    for i in range(1, m + 1):\n        for j in range(1, n + 1):\n            table[i][j] = table[i - 1][j] + table[i][j - 1]  # 上 + 左\n    return table[m][n]\n```",
                    "一行一行填表，边上都是 1：\n```python\ndef paths(m, n):\n    row = [1] * (n + 1)\n    for _ in range(m):\n        for j in range(1, n + 1):\n            row[j] += row[j - 1]\n    return row[n]\n```"]},
            {"en": ["The table for ({m}, {n}):\n{rows}", "Filling it in (row 1 is {second_row}):\n{rows}"],
             "fr": ["Le tableau pour ({m}, {n}) :\n{rows}", "En remplissant (la ligne 1 vaut {second_row}) :\n{rows}"],
             "zh": ["({m}, {n}) 的表：\n{rows}", "填表（第 1 行是 {second_row}）：\n{rows}"]},
            {"en": ["Bottom-right entry: {up} + {left} = {count}.", "The last cell is {count} (above {up}, left {left})."],
             "fr": ["Case en bas à droite : {up} + {left} = {count}.", "La dernière case vaut {count} (dessus {up}, gauche {left})."],
             "zh": ["右下角：{up} + {left} = {count}。", "最后一格是 {count}（上面 {up}，左边 {left}）。"]},
        ]),
        ("recursion_memo", paths_recursion, [
            {"en": ["Recursive: the last move was either down or right, so paths(m, n) = paths(m - 1, n) + paths(m, n - 1), with memoisation:\n```python\nfrom functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef paths(m, n):\n    if m == 0 or n == 0:\n        return 1\n    return paths(m - 1, n) + paths(m, n - 1)\n```",
                    "Top-down with a cache dictionary:\n```python\ndef paths(m, n, memo=None):\n    memo = {{}} if memo is None else memo\n    if m == 0 or n == 0:\n        return 1\n    if (m, n) not in memo:\n        memo[m, n] = paths(m - 1, n, memo) + paths(m, n - 1, memo)\n    return memo[m, n]\n```"],
             "fr": ["Récursivement : le dernier pas descend ou va à droite, donc paths(m, n) = paths(m - 1, n) + paths(m, n - 1), avec mémoïsation :\n```python\nfrom functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef paths(m, n):\n    if m == 0 or n == 0:\n        return 1  # un seul chemin le long du bord\n    return paths(m - 1, n) + paths(m, n - 1)\n```",
                    "Version descendante avec un dictionnaire de cache :\n```python\ndef paths(m, n, memo=None):\n    memo = {{}} if memo is None else memo\n    if m == 0 or n == 0:\n        return 1\n    if (m, n) not in memo:\n        memo[m, n] = paths(m - 1, n, memo) + paths(m, n - 1, memo)\n    return memo[m, n]\n```"],
             "zh": ["递归：最后一步要么向下要么向右，所以 paths(m, n) = paths(m - 1, n) + paths(m, n - 1)，加上记忆化：\n```python\nfrom functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef paths(m, n):\n    if m == 0 or n == 0:\n        return 1  # 沿边只有一条路\n    return paths(m - 1, n) + paths(m, n - 1)\n```",
                    "自顶向下，用字典缓存：\n```python\ndef paths(m, n, memo=None):\n    memo = {{}} if memo is None else memo\n    if m == 0 or n == 0:\n        return 1\n    if (m, n) not in memo:\n        memo[m, n] = paths(m - 1, n, memo) + paths(m, n - 1, memo)\n    return memo[m, n]\n```"]},
            {"en": ["Unfolding the calls for ({m}, {n}):\n{unfold}", "Two levels of the recursion:\n{unfold}"],
             "fr": ["En dépliant les appels pour ({m}, {n}) :\n{unfold}", "Deux niveaux de récursion :\n{unfold}"],
             "zh": ["展开 ({m}, {n}) 的调用：\n{unfold}", "递归展开两层：\n{unfold}"]},
            {"en": ["So paths({m}, {n}) = {up} + {left} = {count}; the cache keeps it to at most {states} states.",
                    "Adding the two halves: {up} + {left} = {count}."],
             "fr": ["Donc paths({m}, {n}) = {up} + {left} = {count} ; le cache limite le calcul à {states} états au plus.",
                    "En additionnant les deux moitiés : {up} + {left} = {count}."],
             "zh": ["所以 paths({m}, {n}) = {up} + {left} = {count}；有缓存，最多 {states} 个状态。",
                    "两部分相加：{up} + {left} = {count}。"]},
        ]),
    ],
}

FAMILIES = [GCD, PRICE, TRAINS, MIXTURE, BITS, PATHS]


# ---------------------------------------------------------------------------------------------------------
# Composition.
# ---------------------------------------------------------------------------------------------------------

DECIMAL_COMMA = {"es", "fr", "de"}


def render(template: str, values: dict, lang: str) -> str:
    if lang in DECIMAL_COMMA:
        values = {k: v.replace(".", ",") if isinstance(v, Dec) else v for k, v in values.items()}
    return template.format(**values)


def phrasings(step, values: dict, lang: str) -> list[str]:
    """A step is {lang: [phrasing, ...]}, or (key, {value of key: {lang: [...]}}) when its text depends on the instance."""
    if isinstance(step, tuple):
        key, options = step
        return options[values[key]][lang]
    return step[lang]


def instance_values(family: dict, instance_index: int, strategy_index: int) -> tuple[dict, list]:
    values = family["base"](family["instances"][instance_index])
    facts = family["strategies"][strategy_index][1](values)
    return values, facts


def pick(rng, options: list):
    return options[int(rng.integers(len(options)))]


def answer_text(rng, family: dict, instance_index: int, lang: str, slip: bool) -> tuple[str, str]:
    """(form, statement) of the final answer; the form is drawn independently of the strategy."""
    value = family["wrong"][instance_index] if slip else family["base"](family["instances"][instance_index])["answer"]
    form = pick(rng, list(ANSWER_FORMS))
    if "/" in value:
        nested = "\\frac{{{}}}{{{}}}".format(*value.split("/"))
    else:
        nested = pick(rng, ["\\mathbf{{{}}}", "\\text{{{}}}"]).format(value)
    return form, pick(rng, ANSWER_FORMS[form][lang]).format(X=value, BX=nested)


def separators(family: dict, lang: str) -> list[str]:
    """Ways to join the pieces of a response: Chinese runs sentences together; code keeps line breaks."""
    if lang == "zh":
        return ["\n", ""]
    return ["\n\n", "\n"] if family["kind"] == "code" else ["\n\n", "\n", " "]


def join_pieces(pieces: list[str], separator: str) -> str:
    """Joins with ``separator``, but never runs a piece into one that ends without punctuation (a table, code)."""
    out = pieces[0]
    for piece in pieces[1:]:
        out += (separator if separator or out.endswith(("。", "：", "？", "！")) else "\n") + piece
    return out


def attach_answer(rng, body: str, form: str, statement: str, lang: str) -> str:
    if form in APPENDED_FORMS:
        return body.rstrip().rstrip(".。:：") + statement
    if form in ("bare_line", "value_period"):
        return body + pick(rng, ["\n", "\n\n"]) + statement
    return join_pieces([body, statement], pick(rng, ["\n\n", "\n", "" if lang == "zh" else " "]))


def compose(family_index: int, instance_index: int, strategy_index: int, realisation: int, lang: str) -> dict:
    """One response: scaffolding and phrasings drawn with default_rng([27, family, instance, strategy, realisation])."""
    family = FAMILIES[family_index]
    rng = np.random.default_rng([27, family_index, instance_index, strategy_index, realisation])
    values, facts = instance_values(family, instance_index, strategy_index)
    steps = family["strategies"][strategy_index][2]
    talk = SCAFFOLD[lang]
    pieces, scaffold = [], []
    space = "" if lang == "zh" else " "  # between a lead-in and what follows it

    def say(template: str, extra: dict | None = None):
        pieces.append(render(template, {**values, **(extra or {})}, lang))

    say(pick(rng, talk["opening"]))
    if rng.random() < 0.75:
        say(pick(rng, family["restate"][lang]))
    if rng.random() < 0.6:
        say(pick(rng, family["notes"][lang]))
    if rng.random() < 0.35:
        scaffold.append("detour")
        say(pick(rng, talk["detour"]))
    if rng.random() < 0.5:
        say(pick(rng, talk["plan"]))
    if rng.random() < 0.25:
        other = pick(rng, [s for s in range(len(family["strategies"])) if s != strategy_index])
        other_values, _ = instance_values(family, instance_index, other)
        scaffold.append("abandoned:" + family["strategies"][other][0])
        for step in family["strategies"][other][2][: int(rng.integers(1, 3))]:
            pieces.append(render(pick(rng, phrasings(step, other_values, lang)), other_values, lang))
        say(pick(rng, talk["abandon"]))
    slip_step, slip = -1, None
    if facts and rng.random() < 0.45:
        slip_step, expr, value = facts[int(rng.integers(len(facts)))]
        delta = pick(rng, [-10, -2, -1, 1, 2, 10])
        delta = -delta if float(value) + delta <= 0 else delta  # a slip keeps the sign
        wrong = value + delta if isinstance(value, int) else dec(float(value) + delta / 10)
        slip = {"expr": Dec(expr) if "." in expr else expr, "value": value, "wrong": wrong}
        scaffold.append("slip")
    restart_after = int(rng.integers(1, len(steps))) if rng.random() < 0.3 else 0
    if restart_after:
        scaffold.append("restart")
        for step in steps[:restart_after]:
            say(pick(rng, phrasings(step, values, lang)))
        say(pick(rng, talk["restart"]))
    for index, step in enumerate(steps):
        if index and rng.random() < 0.25:
            say(pick(rng, talk["filler"]))
        if index == slip_step:
            say(pick(rng, talk["slip"]), slip)
        options = phrasings(step, values, lang)
        chosen = int(rng.integers(len(options)))
        say(options[chosen])
        if rng.random() < 0.15:  # the step said again in its other phrasing
            scaffold.append("recheck")
            say(pick(rng, talk["recheck"]) + space + options[(chosen + 1) % len(options)])
    if rng.random() < 0.35:
        scaffold.append("recap")
        say(pick(rng, talk["recap"]) + space + pick(rng, phrasings(steps[-1], values, lang)))
    if rng.random() < 0.3:
        say(pick(rng, family["focus"][lang]))
    if rng.random() < 0.75:
        scaffold.append("verify")
        checks, intros = family["check"][lang], rng.permutation(talk["verify"])
        for intro, check in zip(intros, rng.permutation(checks)[: 1 + int(rng.random() < 0.3)]):
            say(str(intro) + space + str(check))
    body = join_pieces([p for p in pieces if p], pick(rng, separators(family, lang)))
    slipped = bool(rng.random() < SLIP_RATE)
    form, statement = answer_text(rng, family, instance_index, lang, slipped)
    return {
        "id": f"{family['name']}/{instance_index}/{family['strategies'][strategy_index][0]}/r{realisation}",
        "problem": f"{family['name']}/{instance_index}",
        "strategy": family["strategies"][strategy_index][0],
        "language": lang,
        "answer_form": form,
        "slip": slipped,
        "scaffold": list(dict.fromkeys(scaffold)),
        "text": attach_answer(rng, body, form, statement, lang),
    }


def pool_languages(family: dict) -> list[str]:
    """Realisation r's language: 6 English, then 3 in each of the family's two other languages."""
    first, second = family["languages"][1:]
    return ["en"] * 6 + [first] * 3 + [second] * 3


def draw_groups(family_index: int, instance_index: int) -> list[dict]:
    family = FAMILIES[family_index]
    names = [s[0] for s in family["strategies"]]
    problem = f"{family['name']}/{instance_index}"
    groups = []
    for g in range(ONE_STRATEGY_GROUPS + MULTI_GROUPS):
        seed = 100000 * family_index + 1000 * instance_index + g
        rng = np.random.default_rng([27, seed])
        if g < ONE_STRATEGY_GROUPS:
            kind, chosen, sizes = "one_strategy", [(g + instance_index) % len(names)], [GROUP_SIZE]
        else:
            k = int(rng.integers(2, len(names) + 1))
            chosen = [int(s) for s in rng.choice(len(names), size=k, replace=False)]
            cuts = sorted(int(c) for c in rng.choice(np.arange(1, GROUP_SIZE), size=k - 1, replace=False))
            sizes = np.diff([0, *cuts, GROUP_SIZE]).tolist()
            kind = "multi"
        members = []
        for strategy, size in zip(chosen, sizes):
            members += [(strategy, int(r)) for r in rng.choice(POOL, size=size, replace=False)]
        members = [members[i] for i in rng.permutation(GROUP_SIZE)]
        groups.append({
            "id": f"{problem}/g{g}", "problem": problem, "family": family["name"], "part": "test", "kind": kind,
            "seed": seed, "responses": [f"{problem}/{names[s]}/r{r}" for s, r in members],
            "strategies": [names[s] for s, _ in members],
        })
    return groups


def build() -> dict:
    families, problems, responses, groups = [], [], [], []
    for fi, family in enumerate(FAMILIES):
        families.append({"name": family["name"], "part": "test", "kind": family["kind"],
                         "strategies": [s[0] for s in family["strategies"]], "languages": family["languages"]})
        for ii, instance in enumerate(family["instances"]):
            values = family["base"](instance)
            problems.append({"id": f"{family['name']}/{ii}", "family": family["name"], "part": "test",
                             "kind": family["kind"], "prompt": family["prompt"].format(**values),
                             "answer": values["answer"]})
            for si in range(len(family["strategies"])):
                responses += [compose(fi, ii, si, r, lang) for r, lang in enumerate(pool_languages(family))]
            groups += draw_groups(fi, ii)
    return {"description": "Strategy-detection set of long chains of thought in five languages; see README.md.",
            "families": families, "problems": problems, "responses": responses, "groups": groups}


def serialise(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    args = parser.parse_args()
    text = serialise(build())
    if args.check:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

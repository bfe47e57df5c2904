"""Builds strategy_steps.json: a second strategy-detection set, written in another style and made another way.

    python benchmarks/data/strategy_steps/generate.py   # rewrites strategy_steps.json byte for byte

Unlike ``strategy_sets`` (whole paraphrases written one by one, plus shared scaffolding), every
response here is ASSEMBLED: a strategy is a short list of steps, each step written in three
independent phrasings, and a response picks one phrasing per step at random (so two responses
of one strategy may share any number of steps' wording, from none to all); word problems state
every number in words; programs draw their variable names from a pool per response. See README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "strategy_steps.json"
RESPONSES_PER_STRATEGY = 9
GROUPS_PER_PROBLEM = 10
GROUP_SIZE = 8
STRATEGY_COUNT_PROBABILITIES = {1: 0.1, 2: 0.3, 3: 0.3, 4: 0.3}

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
    "seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINAL = {1: "whole", 2: "half", 3: "third", 4: "quarter", 5: "fifth", 6: "sixth", 8: "eighth", 9: "ninth",
            10: "tenth", 12: "twelfth", 15: "fifteenth", 20: "twentieth"}


def words(n: int) -> str:
    """An integer 0..9999 in English words: 45 -> "forty-five", 120 -> "one hundred twenty"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + words(n % 100))
    return words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + words(n % 1000))


def fraction(denominator: int) -> str:
    """One part of ``denominator``: 2 -> "one half", 6 -> "one sixth"."""
    return "one " + _ORDINAL[denominator]


# ---------------------------------------------------------------------------------------------
# Families: prompt(v), answer(v), and per strategy a list of steps, each three phrasings f(v) -> str
# ---------------------------------------------------------------------------------------------


def pipes_values(a, b):
    together = a * b // (a + b)
    # an imaginary tank of a * b units: pipe one pours b units an hour, pipe two a units
    return {"a": a, "b": b, "t": together, "A": words(a), "B": words(b), "T": words(together), "units": a * b,
            "ua": b, "ub": a, "usum": a + b, "fa": fraction(a), "fb": fraction(b), "ft": fraction(together)}


PIPES = {
    "name": "two_pipes",
    "kind": "word",
    "instances": [pipes_values(6, 3), pipes_values(12, 6), pipes_values(4, 12), pipes_values(10, 15)],
    "prompt": lambda v: (f"One pipe fills a water tank in {v['A']} hours and a second pipe fills it in {v['B']} hours. "
                         "If both pipes are opened together, how long does filling the empty tank take?"),
    "answer": lambda v: f"{v['T']} hours",
    "strategies": {
        "add_rates": [
            (lambda v: f"Think in terms of how much of the tank each pipe does in a single hour.",
             lambda v: f"Work per hour is the useful quantity here, so I look at hourly rates.",
             lambda v: f"Each pipe has a filling rate, a fraction of the tank per hour; rates of pipes running at once add up."),
            (lambda v: f"The first pipe fills {v['fa']} of the tank per hour and the second {v['fb']}.",
             lambda v: f"In one hour pipe one manages {v['fa']}, while pipe two manages {v['fb']}.",
             lambda v: f"Hourly, that is {v['fa']} from pipe one and {v['fb']} from pipe two."),
            (lambda v: f"Adding the two rates, the pair fills {v['ft']} of the tank every hour.",
             lambda v: f"Combined they cover {v['fa']} plus {v['fb']}, which comes to {v['ft']} of the tank per hour.",
             lambda v: f"The sum of the rates is {v['ft']} per hour."),
            (lambda v: f"A whole tank therefore needs the reciprocal of that rate.",
             lambda v: f"Dividing one full tank by the joint rate gives the time.",
             lambda v: f"So the time is one tank divided by the combined rate."),
        ],
        "imaginary_volume": [
            (lambda v: f"Suppose the tank holds {words(v['units'])} buckets, a number both filling times divide.",
             lambda v: f"Let me give the tank a convenient size: {words(v['units'])} litres, so the hourly amounts are whole numbers.",
             lambda v: f"Pick a capacity that makes the arithmetic clean, say {words(v['units'])} units of water."),
            (lambda v: f"Then the first pipe pours {words(v['ua'])} buckets an hour and the second pours {words(v['ub'])}.",
             lambda v: f"Pipe one then delivers {words(v['ua'])} litres each hour, pipe two {words(v['ub'])} litres.",
             lambda v: f"That means {words(v['ua'])} units per hour from one pipe and {words(v['ub'])} from the other."),
            (lambda v: f"Running side by side they pour {words(v['usum'])} buckets per hour.",
             lambda v: f"Together that is {words(v['usum'])} litres in each hour.",
             lambda v: f"Both at once deliver {words(v['usum'])} units hourly."),
            (lambda v: f"Sharing {words(v['units'])} buckets out at {words(v['usum'])} per hour gives the number of hours.",
             lambda v: f"The capacity divided by the joint flow is the time: {words(v['units'])} over {words(v['usum'])}.",
             lambda v: f"How many hours of {words(v['usum'])} units fit into {words(v['units'])} units? That is the answer."),
        ],
        "product_over_sum": [
            (lambda v: f"There is a shortcut for two workers sharing one job: multiply their times and divide by the sum of their times.",
             lambda v: f"For two machines on the same task the joint time equals product over sum of the single times.",
             lambda v: f"I recall the rule that two pipes together need (time one times time two) divided by (time one plus time two)."),
            (lambda v: f"The product is {v['A']} times {v['B']}, that is {words(v['a'] * v['b'])}.",
             lambda v: f"Multiplying the times: {v['A']} by {v['B']} makes {words(v['a'] * v['b'])}.",
             lambda v: f"On top of the fraction goes {words(v['a'] * v['b'])}, the product of the two times."),
            (lambda v: f"The sum is {v['A']} plus {v['B']}, which is {words(v['a'] + v['b'])}.",
             lambda v: f"Underneath goes the total of the times, {words(v['a'] + v['b'])}.",
             lambda v: f"Adding the times gives {words(v['a'] + v['b'])} for the denominator."),
            (lambda v: f"Dividing {words(v['a'] * v['b'])} by {words(v['a'] + v['b'])} finishes it.",
             lambda v: f"So I divide the product by the sum.",
             lambda v: f"The quotient of those two numbers is the joint time."),
        ],
        "hour_by_hour": [
            (lambda v: f"Let me just follow the water level as the hours pass.",
             lambda v: f"I will simulate the filling one hour at a time and watch how full the tank gets.",
             lambda v: f"A step-by-step picture: track the filled share of the tank after each hour."),
            (lambda v: f"During the first hour the two pipes together bring the tank to {v['ft']} full.",
             lambda v: f"After one hour of both pipes running, {v['ft']} of the tank is filled.",
             lambda v: f"At the end of hour one the level stands at {v['ft']}."),
            (lambda v: f"Every further hour adds the same amount again, so the level climbs evenly.",
             lambda v: f"Each additional hour raises the level by that same share.",
             lambda v: f"Hour after hour the tank gains the same portion."),
            (lambda v: f"Counting the hours until the level reaches the top gives {v['T']} hours of filling.",
             lambda v: f"The tank overflows exactly when the count of hours reaches {v['T']}.",
             lambda v: f"So I keep counting hours until the tank is full."),
        ],
    },
}


def ages_values(mother, son):
    years = mother - 2 * son
    gap = mother - son
    return {"M": words(mother), "S": words(son), "X": words(years), "D": words(gap), "x": years, "gap": gap,
            "m": mother, "s": son}


def _trials(v, style):
    tried = [2, 5]  # every instance waits longer
    parts = []
    for y in tried:
        mother, son = v["m"] + y, v["s"] + y
        if style == 0:
            parts.append(f"in {words(y)} years she is {words(mother)} and he is {words(son)}, not double")
        elif style == 1:
            parts.append(f"{words(y)} years on: {words(mother)} against {words(son)}, too big a ratio")
        else:
            parts.append(f"after {words(y)} years the ages would be {words(mother)} and {words(son)}, which fails")
    return "; ".join(parts)


AGES = {
    "name": "mother_and_son",
    "kind": "word",
    "instances": [ages_values(45, 15), ages_values(38, 14), ages_values(50, 20), ages_values(33, 9)],
    "prompt": lambda v: (f"A mother is {v['M']} years old and her son is {v['S']}. "
                         "In how many years will the mother be exactly twice as old as her son?"),
    "answer": lambda v: f"{v['X']} years",
    "strategies": {
        "equation": [
            (lambda v: f"Let the unknown number of years be {v['var']}.",
             lambda v: f"Call the waiting time {v['var']}, in years.",
             lambda v: f"I introduce a variable {v['var']} for how many years must pass."),
            (lambda v: f"Then she will be {v['M']} plus {v['var']} and he will be {v['S']} plus {v['var']}.",
             lambda v: f"After {v['var']} years the ages are {v['M']} + {v['var']} for her and {v['S']} + {v['var']} for him.",
             lambda v: f"Her future age is {v['M']} + {v['var']}, his is {v['S']} + {v['var']}."),
            (lambda v: f"The condition reads {v['M']} + {v['var']} = 2 ({v['S']} + {v['var']}), so {v['var']} = {v['M']} - 2 times {v['S']}.",
             lambda v: f"Writing the doubling as an equation, {v['M']} + {v['var']} = 2 times ({v['S']} + {v['var']}); solving leaves {v['var']} = {v['M']} minus twice {v['S']}.",
             lambda v: f"Set {v['M']} + {v['var']} equal to twice ({v['S']} + {v['var']}) and isolate {v['var']}: {v['var']} = {v['M']} - 2 x {v['S']}."),
        ],
        "constant_gap": [
            (lambda v: f"The difference between their ages never changes; it is {v['D']} years now and always will be.",
             lambda v: f"Key fact: the age gap stays fixed at {v['D']} years forever.",
             lambda v: f"She is {v['D']} years older than him, and that gap is permanent."),
            (lambda v: f"When she is twice his age, the gap equals his age, so he must then be {v['D']}.",
             lambda v: f"Being twice as old means her age is his age plus his age again, so at that moment his age equals the gap, {v['D']}.",
             lambda v: f"Double his age minus his age is his age, hence at the doubling moment the son is exactly as old as the gap: {v['D']}."),
            (lambda v: f"He is {v['S']} today, so that moment comes after {v['D']} minus {v['S']} years.",
             lambda v: f"From his current {v['S']} years to {v['D']} takes the difference of those two.",
             lambda v: f"Subtracting his present age {v['S']} from {v['D']} gives the wait."),
        ],
        "trial_and_error": [
            (lambda v: f"I will try a few future years and check whether her age is double his.",
             lambda v: f"Let me test candidate numbers of years one by one.",
             lambda v: f"Guess and check: add some years to both ages and compare."),
            (lambda v: f"For instance, {_trials(v, 0)}.",
             lambda v: f"Trying: {_trials(v, 1)}.",
             lambda v: f"Check: {_trials(v, 2)}."),
            (lambda v: f"With {v['X']} years added she is {words(v['m'] + v['x'])} and he is {words(v['s'] + v['x'])}, and that is exactly double.",
             lambda v: f"Jumping to {v['X']} years: {words(v['m'] + v['x'])} and {words(v['s'] + v['x'])}, a perfect two to one.",
             lambda v: f"At {v['X']} years the pair reads {words(v['m'] + v['x'])} versus {words(v['s'] + v['x'])}, which works."),
        ],
    },
}


def handshakes_values(people):
    return {"N": words(people), "n": people, "P": words(people - 1), "H": words(people * (people - 1) // 2),
            "prod": words(people * (people - 1)), "h": people * (people - 1) // 2}


HANDSHAKES = {
    "name": "handshakes",
    "kind": "word",
    "instances": [handshakes_values(6), handshakes_values(8), handshakes_values(10), handshakes_values(12)],
    "prompt": lambda v: (f"At a meeting of {v['N']} people, everyone shakes hands exactly once with everyone else. "
                         "How many handshakes take place?"),
    "answer": lambda v: f"{v['H']} handshakes",
    "strategies": {
        "choose_two": [
            (lambda v: f"A handshake is fixed by choosing an unordered pair of people.",
             lambda v: f"Every handshake corresponds to one pair of attendees, order not mattering.",
             lambda v: f"Counting handshakes is counting two-person subsets of the group."),
            (lambda v: f"The number of pairs from {v['N']} is the binomial coefficient {v['N']} choose two.",
             lambda v: f"So I need C({v['N']}, 2), the combinations of {v['N']} things taken two at a time.",
             lambda v: f"That count is {v['N']} choose two by the combinations formula."),
            (lambda v: f"Evaluating the coefficient finishes the count.",
             lambda v: f"Computing C(n, 2) = n(n - 1)/2 for this n gives the total.",
             lambda v: f"The formula for choosing two gives the number directly."),
        ],
        "double_count": [
            (lambda v: f"Each person shakes the hand of every other person, that is {v['P']} hands each.",
             lambda v: f"Look at one attendee: they greet the other {v['P']} people.",
             lambda v: f"Per person there are {v['P']} handshakes, one with each of the others."),
            (lambda v: f"Over all {v['N']} people that tallies {v['prod']} handshakes.",
             lambda v: f"Multiplying by the {v['N']} people gives {v['prod']}.",
             lambda v: f"Summed over everyone this is {v['N']} times {v['P']}, so {v['prod']}."),
            (lambda v: f"But every handshake was counted twice, once from each side, so I halve it.",
             lambda v: f"Each shake involves two people and so was tallied by both of them; divide by two.",
             lambda v: f"That double counts, since a handshake has two ends; halving corrects it."),
        ],
        "one_by_one": [
            (lambda v: f"Let people arrive one at a time and shake hands with everyone already present.",
             lambda v: f"Imagine the guests entering in turn, each greeting those already in the room.",
             lambda v: f"Line the people up; each shakes hands only with the people after them in the line."),
            (lambda v: f"The first meets nobody new, the second shakes one hand, the third two, and so on up to {v['P']}.",
             lambda v: f"So the new handshakes go zero, one, two, and so on, the last newcomer adding {v['P']}.",
             lambda v: f"The first in line shakes {v['P']} hands, the next one fewer, down to the last who shakes none."),
            (lambda v: f"Adding one plus two plus and so on up to {v['P']} gives the total.",
             lambda v: f"The handshakes are the sum of the whole numbers from one to {v['P']}.",
             lambda v: f"Summing that run of consecutive numbers up to {v['P']} gives the count."),
        ],
        "polygon": [
            (lambda v: f"Place the {v['N']} people at the corners of a polygon with {v['N']} sides.",
             lambda v: f"Draw the attendees as the vertices of a {v['N']}-sided polygon.",
             lambda v: f"Geometrically, put everyone on a circle as the corners of a polygon."),
            (lambda v: f"Every handshake is then a side or a diagonal of that polygon.",
             lambda v: f"Each handshake becomes a segment joining two corners: either an edge or a diagonal.",
             lambda v: f"Handshakes are the line segments between corners, sides and diagonals alike."),
            (lambda v: f"There are {v['N']} sides and {v['N']} times ({v['N']} minus three) over two diagonals.",
             lambda v: f"The polygon has {v['N']} edges, and the diagonal count is n(n - 3)/2.",
             lambda v: f"Sides: {v['N']}. Diagonals by the usual formula, n times n minus three, halved."),
            (lambda v: f"Sides plus diagonals is the number of handshakes.",
             lambda v: f"Adding edges and diagonals gives the answer.",
             lambda v: f"Their total counts every handshake once."),
        ],
    },
}


def _code(lines: list[str]) -> str:
    return "```python\n" + "\n".join(lines) + "\n```"


NAME_POOLS = 4  # each code family lists this many sets of variable names
DIGIT_NAMES = [("total", "n", "digit"), ("s", "x", "d"), ("acc", "value", "last"), ("result", "num", "r")]


def digits_values(number):
    return {"n": number, "sum": sum(map(int, str(number)))}


def _names(v):
    return DIGIT_NAMES[v["names"]]


DIGIT_SUM = {
    "name": "digit_sum_code",
    "kind": "code",
    "instances": [digits_values(4096), digits_values(2025), digits_values(98765), digits_values(1203)],
    "prompt": lambda v: f"Write a Python function that returns the sum of the decimal digits of a non-negative integer, and use it on {v['n']}.",
    "answer": lambda v: str(v["sum"]),
    "strategies": {
        "modulo_loop": [
            (lambda v: "Peel digits off the right end with the remainder by ten.",
             lambda v: "Arithmetic only: the last digit is the remainder mod 10, and integer division by 10 drops it.",
             lambda v: "Repeatedly take n % 10 and shrink the number with // 10."),
            (lambda v: _code([f"def digit_sum({_names(v)[1]}):", f"    {_names(v)[0]} = 0",
                              f"    while {_names(v)[1]} > 0:", f"        {_names(v)[0]} += {_names(v)[1]} % 10",
                              f"        {_names(v)[1]} //= 10", f"    return {_names(v)[0]}"]),
             lambda v: _code([f"def digit_sum({_names(v)[1]}):", f"    {_names(v)[0]} = 0",
                              f"    while {_names(v)[1]}:", f"        {_names(v)[1]}, {_names(v)[2]} = divmod({_names(v)[1]}, 10)",
                              f"        {_names(v)[0]} += {_names(v)[2]}", f"    return {_names(v)[0]}"]),
             lambda v: _code([f"def digit_sum({_names(v)[1]}):", f"    {_names(v)[0]} = 0",
                              f"    while {_names(v)[1]} != 0:", f"        {_names(v)[2]} = {_names(v)[1]} % 10",
                              f"        {_names(v)[0]} = {_names(v)[0]} + {_names(v)[2]}",
                              f"        {_names(v)[1]} = {_names(v)[1]} // 10", f"    return {_names(v)[0]}"])),
            (lambda v: "The loop runs once per digit, so it is linear in the number of digits.",
             lambda v: "Each pass removes one digit until nothing is left.",
             lambda v: "It stops when the number reaches zero."),
        ],
        "string_digits": [
            (lambda v: "Convert the number to text and add up its characters as integers.",
             lambda v: "Easiest is to go through the decimal string representation.",
             lambda v: "Turn the integer into a string; each character is one digit."),
            (lambda v: _code([f"def digit_sum({_names(v)[1]}):",
                              f"    return sum(int({_names(v)[2]}) for {_names(v)[2]} in str({_names(v)[1]}))"]),
             lambda v: _code([f"def digit_sum({_names(v)[1]}):", f"    {_names(v)[0]} = 0",
                              f"    for {_names(v)[2]} in str({_names(v)[1]}):", f"        {_names(v)[0]} += int({_names(v)[2]})",
                              f"    return {_names(v)[0]}"]),
             lambda v: _code([f"def digit_sum({_names(v)[1]}):", f"    return sum(map(int, str({_names(v)[1]})))"])),
            (lambda v: "Converting to a string costs one pass over the digits.",
             lambda v: "The characters '0' to '9' map straight back to integers with int().",
             lambda v: "No arithmetic on the number itself is needed."),
        ],
        "recursion": [
            (lambda v: "Define it recursively: the last digit plus the digit sum of the rest.",
             lambda v: "A recursive definition works: split off the final digit and recurse on what remains.",
             lambda v: "Recursion on n // 10, with zero as the base case."),
            (lambda v: _code([f"def digit_sum({_names(v)[1]}):", f"    if {_names(v)[1]} == 0:", "        return 0",
                              f"    return {_names(v)[1]} % 10 + digit_sum({_names(v)[1]} // 10)"]),
             lambda v: _code([f"def digit_sum({_names(v)[1]}):",
                              f"    return {_names(v)[1]} if {_names(v)[1]} < 10 else {_names(v)[1]} % 10 + digit_sum({_names(v)[1]} // 10)"]),
             lambda v: _code([f"def digit_sum({_names(v)[1]}):", f"    if {_names(v)[1]} < 10:", f"        return {_names(v)[1]}",
                              f"    {_names(v)[0]}, {_names(v)[2]} = divmod({_names(v)[1]}, 10)",
                              f"    return {_names(v)[2]} + digit_sum({_names(v)[0]})"])),
            (lambda v: "The call depth equals the number of digits, far below Python's recursion limit.",
             lambda v: "Each call handles one digit and hands the rest to a smaller call.",
             lambda v: "The base case ends the chain of calls."),
        ],
    },
}


VOWEL_NAMES = [("count", "word", "ch"), ("n", "s", "c"), ("hits", "text", "letter"), ("k", "w", "x")]


def vowels_values(word):
    return {"w": word, "count": sum(ch in "aeiou" for ch in word)}


def _vn(v):
    return VOWEL_NAMES[v["names"]]


VOWELS = {
    "name": "vowel_count_code",
    "kind": "code",
    "instances": [vowels_values("education"), vowels_values("banana"), vowels_values("rhythmic"), vowels_values("sequoia")],
    "prompt": lambda v: f"Write Python code that counts the vowels (a, e, i, o, u) in a lowercase word, and apply it to '{v['w']}'.",
    "answer": lambda v: str(v["count"]),
    "strategies": {
        "counter_loop": [
            (lambda v: "Walk over the letters and bump a counter at every vowel.",
             lambda v: "A plain loop with a running count does it.",
             lambda v: "Iterate through the word, incrementing a tally whenever a letter is a vowel."),
            (lambda v: _code([f"def vowels({_vn(v)[1]}):", f"    {_vn(v)[0]} = 0", f"    for {_vn(v)[2]} in {_vn(v)[1]}:",
                              f"        if {_vn(v)[2]} in 'aeiou':", f"            {_vn(v)[0]} += 1", f"    return {_vn(v)[0]}"]),
             lambda v: _code([f"def vowels({_vn(v)[1]}):", f"    {_vn(v)[0]} = 0", f"    for i in range(len({_vn(v)[1]})):",
                              f"        if {_vn(v)[1]}[i] in 'aeiou':", f"            {_vn(v)[0]} = {_vn(v)[0]} + 1",
                              f"    return {_vn(v)[0]}"]),
             lambda v: _code([f"def vowels({_vn(v)[1]}):", f"    {_vn(v)[0]} = 0", f"    for {_vn(v)[2]} in {_vn(v)[1]}:",
                              f"        if {_vn(v)[2]} == 'a' or {_vn(v)[2]} == 'e' or {_vn(v)[2]} == 'i' or {_vn(v)[2]} == 'o' or {_vn(v)[2]} == 'u':",
                              f"            {_vn(v)[0]} += 1", f"    return {_vn(v)[0]}"])),
        ],
        "sum_generator": [
            (lambda v: "Sum a boolean per letter: True counts as one.",
             lambda v: "A one-liner: add up the membership tests.",
             lambda v: "Booleans are integers in Python, so summing the tests counts the vowels."),
            (lambda v: _code([f"def vowels({_vn(v)[1]}):", f"    return sum({_vn(v)[2]} in 'aeiou' for {_vn(v)[2]} in {_vn(v)[1]})"]),
             lambda v: _code([f"def vowels({_vn(v)[1]}):", f"    return sum(1 for {_vn(v)[2]} in {_vn(v)[1]} if {_vn(v)[2]} in 'aeiou')"]),
             lambda v: _code([f"vowels = lambda {_vn(v)[1]}: sum({_vn(v)[2]} in set('aeiou') for {_vn(v)[2]} in {_vn(v)[1]})"])),
        ],
        "regex": [
            (lambda v: "Let a regular expression find every vowel, then count the matches.",
             lambda v: "Use the re module with a character class of the five vowels.",
             lambda v: "Pattern matching: findall with [aeiou] returns each vowel occurrence."),
            (lambda v: _code(["import re", "", f"def vowels({_vn(v)[1]}):", f"    return len(re.findall(r'[aeiou]', {_vn(v)[1]}))"]),
             lambda v: _code(["import re", f"VOWEL = re.compile('[aeiou]')", "", f"def vowels({_vn(v)[1]}):",
                              f"    return len(VOWEL.findall({_vn(v)[1]}))"]),
             lambda v: _code(["import re", "", f"def vowels({_vn(v)[1]}):",
                              f"    return sum(1 for _ in re.finditer('[aeiou]', {_vn(v)[1]}))"])),
        ],
        "count_each_vowel": [
            (lambda v: "Count each of the five vowels separately with str.count and add the five numbers.",
             lambda v: "Ask the string how often each vowel occurs, then total those counts.",
             lambda v: "Five calls to count, one per vowel, summed."),
            (lambda v: _code([f"def vowels({_vn(v)[1]}):", f"    return sum({_vn(v)[1]}.count({_vn(v)[2]}) for {_vn(v)[2]} in 'aeiou')"]),
             lambda v: _code([f"def vowels({_vn(v)[1]}):",
                              f"    return {_vn(v)[1]}.count('a') + {_vn(v)[1]}.count('e') + {_vn(v)[1]}.count('i') + {_vn(v)[1]}.count('o') + {_vn(v)[1]}.count('u')"]),
             lambda v: _code([f"def vowels({_vn(v)[1]}):", f"    {_vn(v)[0]} = 0", f"    for {_vn(v)[2]} in 'aeiou':",
                              f"        {_vn(v)[0]} += {_vn(v)[1]}.count({_vn(v)[2]})", f"    return {_vn(v)[0]}"])),
        ],
    },
}

FAMILIES = [PIPES, AGES, HANDSHAKES, DIGIT_SUM, VOWELS]

OPENINGS = ["", "", "Okay, let me work this out.", "Let me think about it carefully.", "Here is how I would do it.",
            "Alright.", "We need to be systematic here."]
# Closing answer statements: {a} is the answer in words (word problems) or as printed by the code.
WORD_CLOSINGS = ["So the answer is {a}.", "That makes {a}.", "\\boxed{{{a}}}", "Answer: {a}", "{a}.", "Therefore, {a}."]
CODE_CLOSINGS = ["Calling it on the input prints {a}.", "Output: {a}", "It returns {a}.", "\\boxed{{{a}}}",
                 "Running it gives {a}.", "The result is {a}."]


def render(family, instance, strategy, rng) -> str:
    v = dict(instance, names=int(rng.integers(NAME_POOLS)), var="xynt"[int(rng.integers(4))])
    steps = [step[int(rng.integers(len(step)))](v) for step in family["strategies"][strategy]]
    opening = OPENINGS[int(rng.integers(len(OPENINGS)))]
    closings = CODE_CLOSINGS if family["kind"] == "code" else WORD_CLOSINGS
    closing = closings[int(rng.integers(len(closings)))].format(a=family["answer"](v))
    separator = "\n" if family["kind"] == "code" or rng.random() < 0.5 else " "
    body = separator.join(steps)
    return "\n".join(part for part in (opening, body, closing) if part)


def composition(rng, k: int) -> list[int]:
    while True:
        cuts = sorted(rng.choice(np.arange(1, GROUP_SIZE), size=k - 1, replace=False).tolist())
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, GROUP_SIZE])]
        if max(sizes) <= RESPONSES_PER_STRATEGY:
            return sizes


def build() -> dict:
    families, problems, responses, groups = [], [], [], []
    counts, probabilities = list(STRATEGY_COUNT_PROBABILITIES), list(STRATEGY_COUNT_PROBABILITIES.values())
    for f_index, family in enumerate(FAMILIES):
        names = list(family["strategies"])
        families.append({"name": family["name"], "part": "test", "kind": family["kind"], "strategies": names})
        for i_index, instance in enumerate(family["instances"]):
            problem = f"{family['name']}/{i_index}"
            problems.append({"id": problem, "family": family["name"], "part": "test", "kind": family["kind"],
                             "prompt": family["prompt"](instance), "answer": family["answer"](instance)})
            pool = {}
            for s_index, strategy in enumerate(names):
                pool[strategy] = []
                for r in range(RESPONSES_PER_STRATEGY):
                    rng = np.random.default_rng([7, f_index, i_index, s_index, r])
                    rid = f"{problem}/{strategy}/r{r}"
                    responses.append({"id": rid, "problem": problem, "strategy": strategy,
                                      "text": render(family, instance, strategy, rng)})
                    pool[strategy].append(rid)
            for g in range(GROUPS_PER_PROBLEM):
                seed = 100000 * f_index + 1000 * i_index + g
                rng = np.random.default_rng(seed)
                k = min(int(rng.choice(counts, p=probabilities)), len(names))
                chosen = [names[j] for j in sorted(rng.choice(len(names), size=k, replace=False).tolist())]
                members = []
                for strategy, size in zip(chosen, composition(rng, k)):
                    picks = rng.choice(RESPONSES_PER_STRATEGY, size=size, replace=False).tolist()
                    members += [(pool[strategy][p], strategy) for p in picks]
                order = rng.permutation(GROUP_SIZE).tolist()
                groups.append({"id": f"{problem}/g{g}", "problem": problem, "family": family["name"], "part": "test",
                               "seed": seed, "responses": [members[j][0] for j in order],
                               "strategies": [members[j][1] for j in order]})
    return {"description": "Strategy-detection set assembled from step phrasings; see README.md.",
            "families": families, "problems": problems, "responses": responses, "groups": groups}


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {OUT}")

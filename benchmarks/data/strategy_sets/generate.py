"""Build ``strategy_sets.json``: hand-written responses with known strategies, and groups of 8.

    python benchmarks/data/strategy_sets/generate.py   # rewrites strategy_sets.json next to it

Every text below was written for this set. A family is one kind of problem with several
instances (different numbers); every strategy of a family has three paraphrases written to
share little wording (vocabulary, sentence order, notation), each with a SHORT body and a LONG
body. A rendered response adds, independently of its strategy, an answer line and, in the long
form only, a restatement of the question, a paragraph of observations ("setup"), filler sentences
and two verification paragraphs; see README.md for the group construction. Deterministic: every
random draw comes from numpy's ``default_rng`` with a fixed seed. The committed JSON is the data
set; this script documents how it was made.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from string import Template

import numpy as np

OUT = Path(__file__).with_name("strategy_sets.json")
GROUPS_PER_PROBLEM = 10
RENDERINGS = 3  # renderings (restatement, verification, fillers, answer line) per paraphrase and problem
SLIP_PROBABILITY = 0.15  # the answer line states a wrong value (a copying slip), strategy unchanged
STRATEGY_COUNT_WEIGHTS = {1: 0.1, 2: 0.3, 3: 0.3, 4: 0.3}

FILLERS = [
    "Hmm, let me think about how to attack this.",
    "Okay, let me start.",
    "Wait, I should be careful with the arithmetic.",
    "Let me organize the work before computing anything.",
    "I will go step by step so that nothing slips.",
    "There may be several routes here; I will just pick one.",
    "Alright, no need to rush.",
    "Let me write things down clearly first.",
    "So, where to begin?",
    "I think I see a way.",
]

ANSWER_LINES = [
    "The answer is $ans.",
    "**Answer:** $ans",
    "Final answer: \\boxed{$ans}",
    "Therefore the result is $ans.",
    "So: $ans.",
]


def fmt(x) -> str:
    """Integers plainly, halves as decimals, other fractions as a/b."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    if x.denominator == 2:
        return f"{float(x):.1f}"
    return f"{x.numerator}/{x.denominator}"


# ---------------------------------------------------------------------------------------------
# Family: sum of the first n integers (dev)
# ---------------------------------------------------------------------------------------------


def series_values(n: int) -> dict:
    b = n // 10
    return dict(
        n=n,
        n1=n + 1,
        n_1=n - 1,
        n_2=n - 2,
        half=n // 2,
        half1=n // 2 + 1,
        S=n * (n + 1) // 2,
        twoS=n * (n + 1),
        sq1=(n + 1) ** 2,
        sq1m=(n + 1) ** 2 - 1,
        nsq=n * n,
        nsq_half=n * n // 2,
        B=b,
        Bm1=b - 1,
        triB=b * (b - 1) // 2,
        base55=55 * b,
        extra=50 * b * (b - 1),
        lastblock=55 + 100 * (b - 1),
        ans=str(n * (n + 1) // 2),
        wrong=str(n * (n + 1) // 2 + n),
    )


SERIES = dict(
    name="series_sum",
    part="dev",
    kind="math",
    instances=[dict(n=40), dict(n=60), dict(n=80), dict(n=100)],
    values=lambda inst: series_values(inst["n"]),
    prompt="Compute 1 + 2 + 3 + ... + $n.",
    restatements=[
        "We need the total of all whole numbers from 1 up to $n, that is 1 + 2 + 3 + ... + $n. "
        "Only the value of this sum is asked for.",
        "The problem: add every positive integer not exceeding $n. So the target quantity is "
        "S = 1 + 2 + ... + $n, a sum with $n terms, and I should report its exact value.",
        "Restating the task in my own words: there is a list of consecutive counting numbers that "
        "starts at one and stops at $n, and I have to find what they add up to.",
        "Okay, so the question is about the sum of the integers 1 through $n. Adding them one at a "
        "time would be tedious and error-prone.",
        "Let me make sure I understand what is being asked. We want the sum of the first $n natural "
        "numbers, i.e. sum_{k=1}^{$n} k.",
    ],
    verifications=[
        "As a sanity check, the numbers average roughly half of $n and there are $n of them, so the "
        "total should be a little more than $n*$n/2 = $nsq_half. The value $S sits right there, so "
        "nothing is off by a factor.",
        "Let me double-check on a tiny case I can add by hand: for 1 + 2 + 3 + 4 the same reasoning "
        "gives 10, and indeed 1+2+3+4 = 10. The computation for $n follows the same pattern, so I "
        "trust $S.",
        "Quick plausibility test: $S is below $n squared ($nsq), as it must be because each of the $n "
        "terms is at most $n, and it is well above a quarter of $nsq. Also the sum of $n consecutive "
        "integers starting at 1 is a whole number, which $S is.",
        "Verifying: I recompute the last multiplication slowly and get $S again. No approximation was "
        "used anywhere, so the result is exact.",
        "Does this make sense? If all $n terms were as large as $n the total would be $nsq; ours is "
        "about half of that, which fits numbers spread evenly between 1 and $n.",
    ],
    setups=[
        "Before choosing a method, some observations. The terms go up by exactly one at each step, the "
        "smallest is 1 and the largest is $n, and there are $n of them. Every term is positive, so the "
        "result is a positive whole number, and it must be bigger than $n (the last term alone) and "
        "smaller than $nsq ($n terms, none above $n). Adding the numbers one after another would take "
        "$n additions and invites mistakes, so I want something more structured.",
        "What do I know? The list is 1, 2, 3, and so on, with no gaps and no repeats, ending at $n. So "
        "it has $n entries, and its entries are spread evenly between the smallest and the largest. A "
        "brute-force running total is possible in principle, but with $n terms it is long, and one "
        "slip anywhere would ruin the result. I would rather organise the computation so that each "
        "step is easy to check.",
        "Let me think about the size of the answer first, to have something to compare with later. "
        "The first few terms are tiny and the last few are close to $n. Roughly speaking, the sum is "
        "the number of terms times a typical term. That gives a ballpark, but I need the exact value, "
        "so I need an exact method. Note that $n is a round number, which may help.",
        "Givens: start 1, end $n, step 1. Unknown: the total. Constraints on the answer: an integer, "
        "larger than $n, less than $n times $n. I also remember that this kind of question has a "
        "famous story about a schoolboy, but let me not rely on memory and actually derive the value "
        "carefully, keeping track of every intermediate number.",
        "First, what kind of object is this? It is a finite sum of consecutive integers, an arithmetic "
        "progression with common difference 1, first term 1, and $n terms. Its value will be some "
        "integer in the thousands or so, depending on $n. I will set up the computation so that I can "
        "double-check it at the end, because it is easy to be off by one in the number of terms.",
    ],
    strategies={
        "pairing": [
            (
                "Pair the first term with the last: 1 + $n = $n1, then 2 + $n_1 = $n1, and so on. There "
                "are $half such couples, each worth $n1, so the sum is $half x $n1 = $S.",
                "The idea I want is to match numbers from opposite ends of the list. Take the smallest "
                "and the largest: 1 and $n together make $n1. Move one step inward on both sides: 2 and "
                "$n_1 also make $n1. Then 3 and $n_2, again $n1. Each time I step inward, the left number "
                "goes up by one and the right one goes down by one, so their total never changes. "
                "Because $n is even, the numbers split perfectly into couples with nobody left over, and "
                "the number of couples is $n divided by 2, which is $half. The innermost couple is $half "
                "and $half1, whose total is $n1 as well, which confirms the count. So the whole sum is "
                "just $half copies of $n1, and $half x $n1 = $S.",
            ),
            (
                "Fold the list 1..$n in the middle so that $n lands on top of 1, $n_1 on top of 2, etc. "
                "Every stacked column adds to $n1, and the fold produces $half columns. Total: "
                "$half*$n1 = $S.",
                "Imagine writing the numbers on a strip of paper and folding the strip exactly in the "
                "middle. After folding, $n sits on top of 1, $n_1 sits on top of 2, $n_2 on top of 3, and "
                "so on down the strip. Look at any column of the folded strip: the top entry and the "
                "bottom entry always add up to $n1, since one entry grows exactly as fast as the other "
                "shrinks. How many columns are there? The strip had $n entries and each column holds "
                "two of them, so $half columns. The middle of the strip is where $half meets $half1, and "
                "they also give $n1, good. Adding column totals instead of single entries, I get "
                "$half times $n1, which equals $S.",
            ),
            (
                "S = (1 + $n) + (2 + $n_1) + ... + ($half + $half1). Every bracket equals $n1 and there "
                "are $half brackets => S = $half * $n1 = $S.",
                "Let S denote the sum. Regroup its terms two at a time, outermost first:\n"
                "S = (1 + $n) + (2 + $n_1) + (3 + $n_2) + ... + ($half + $half1).\n"
                "Each bracket has the form (j + ($n1 - j)), which simplifies to $n1 regardless of j. "
                "The index j runs from 1 to $half, so there are $half brackets and no unpaired term. "
                "Hence S = $half * $n1. Multiplying: $half * $n1 = $S. In symbols, "
                "S = sum_{j=1}^{$half} (j + ($n1 - j)) = $half * $n1 = $S.",
            ),
        ],
        "induction": [
            (
                "Claim: 1 + 2 + ... + m = m(m+1)/2 for every m >= 1. Base case m = 1: both sides are 1. "
                "Step: if it holds for m, adding m+1 gives m(m+1)/2 + (m+1) = (m+1)(m+2)/2. So it holds "
                "for all m, and with m = $n the sum is $n*$n1/2 = $S.",
                "I would like a general formula that I can then evaluate at $n, and I will prove it "
                "rather than trust it. Claim: for every positive integer m, 1 + 2 + ... + m equals "
                "m(m+1)/2. Base case: m = 1, the left side is 1 and the right side is 1*2/2 = 1, so it "
                "holds. Inductive step: suppose the claim is true for some m. The sum up to m+1 is the "
                "sum up to m plus the new term m+1, which by hypothesis is m(m+1)/2 + (m+1). Factor out "
                "(m+1): (m+1)(m/2 + 1) = (m+1)(m+2)/2, exactly the claimed expression with m+1 in place "
                "of m. By the principle of mathematical induction the formula is valid for all m. Now "
                "substitute m = $n: $n times $n1 is $twoS, and half of that is $S.",
            ),
            (
                "Small cases 1, 3, 6, 10, 15 suggest k(k+1)/2. Prove it by induction: true at k = 1; "
                "assuming it for k, the next total k(k+1)/2 + k + 1 factors as (k+1)(k+2)/2. Plugging in "
                "k = $n: $S.",
                "First some experiments: the running totals go 1, 3, 6, 10, 15, 21. These are the "
                "triangular numbers and each looks like k(k+1)/2: 3*4/2 = 6, 5*6/2 = 15, 6*7/2 = 21. A "
                "pattern from six cases is not a proof, so let me verify it in general. It is correct "
                "for k = 1. Assume it is correct for a particular k; then the total for k + 1 equals the "
                "old total plus k + 1, that is k(k+1)/2 + (k+1) = (k^2 + 3k + 2)/2 = (k+1)(k+2)/2. That "
                "is the same formula one step later, so the pattern propagates from each k to the next "
                "and therefore to every k. With the formula established, evaluate at k = $n: "
                "$n*$n1 = $twoS, halved gives $S.",
            ),
            (
                "Let T(j) be the sum of the first j integers. Hypothesis: T(j) = j(j+1)/2. T(1) = 1, "
                "correct. T(j+1) = T(j) + (j+1) = (j+1)(j+2)/2, correct, so by induction T(j) = "
                "j(j+1)/2 for all j. Hence T($n) = $S.",
                "Define T(j) = 1 + 2 + ... + j, so T(j+1) = T(j) + (j+1) and T(1) = 1. This recursive "
                "description invites a proof by induction of the closed form T(j) = j(j+1)/2.\n"
                "(i) Base: T(1) = 1 and 1(1+1)/2 = 1.\n"
                "(ii) Hypothesis: T(j) = j(j+1)/2 for some j >= 1.\n"
                "(iii) Then T(j+1) = j(j+1)/2 + (j+1) = (j+1)(j+2)/2, which is the closed form at j+1.\n"
                "From (i)-(iii) the identity is true for every j. The requested number is T($n) = "
                "$n($n1)/2 = $twoS/2 = $S.",
            ),
        ],
        "telescoping": [
            (
                "Use (k+1)^2 - k^2 = 2k + 1. Summing for k = 1..$n, the left side telescopes to "
                "$n1^2 - 1 = $sq1m and the right side is 2S + $n. So 2S = $sq1m - $n = $twoS and S = $S.",
                "Consider the difference of consecutive squares, (k+1)^2 - k^2. Expanding gives 2k + 1, "
                "which contains the k I want to add up. So write this identity for every k from 1 to $n "
                "and add the $n equations. On the left: (2^2 - 1^2) + (3^2 - 2^2) + ... + ($n1^2 - $n^2). "
                "Every square except the last and the first cancels against a neighbour, leaving "
                "$n1^2 - 1 = $sq1 - 1 = $sq1m. On the right: 2(1 + 2 + ... + $n) + (1 + 1 + ... + 1) = "
                "2S + $n. Equating the two sides, 2S + $n = $sq1m, so 2S = $twoS and S = $S.",
            ),
            (
                "Gaps between consecutive perfect squares are the odd numbers 3, 5, 7, ...; the gap after "
                "k^2 is 2k+1. All gaps from 1^2 up to $n1^2 add to $n1^2 - 1 = $sq1m, which is twice our "
                "sum plus $n. Twice the sum is $twoS, so the sum is $S.",
                "Here is a different angle. Look at the perfect squares 1, 4, 9, 16, 25, ... and the "
                "gaps between them: 3, 5, 7, 9, ... In general the gap from k^2 to the next square is 2k "
                "plus one. If I walk from 1^2 all the way up to $n1^2, the gaps I cross add up to the "
                "total climb, which is $n1^2 - 1 = $sq1m. But the gaps are 2*1+1, 2*2+1, ..., 2*$n+1, "
                "whose total is double our unknown sum plus $n extra ones. So double the sum equals "
                "$sq1m minus $n, which is $twoS, and the sum is half of that: $S.",
            ),
            (
                "sum_{k=1}^{$n} [(k+1)^2 - k^2] = sum (2k+1). LHS collapses: $n1^2 - 1^2 = $sq1m. "
                "RHS: 2S + $n. => S = ($sq1m - $n)/2 = $S.",
                "Let S = sum_{k=1}^{$n} k. Start from the telescoping sum\n"
                "sum_{k=1}^{$n} [(k+1)^2 - k^2].\n"
                "Evaluated directly, consecutive terms cancel and only $n1^2 - 1^2 survives, i.e. $sq1m. "
                "Evaluated termwise, each bracket is 2k + 1, so the same sum is 2*S + $n. Therefore "
                "2S = $sq1m - $n = $twoS, giving S = $S. (The same device with cubes would give the sum "
                "of squares, but that is not needed here.)",
            ),
        ],
        "blocks_of_ten": [
            (
                "Break the numbers into blocks of ten: 1-10, 11-20, ..., $B blocks. The first block sums "
                "to 55 and each later block is 100 more than the previous one: 55, 155, 255, ..., "
                "$lastblock. Adding: 55*$B + 100*(0 + 1 + ... + $Bm1) = $base55 + $extra = $S.",
                "Since $n is a multiple of ten, the list cuts neatly into runs of ten numbers: 1 to 10, "
                "11 to 20, 21 to 30, and so on, $B runs altogether. The first run is easy: 1 + 2 + ... + "
                "10 = 55. Now compare the second run with the first: 11 is 1 plus ten, 12 is 2 plus ten, "
                "and so on, so every one of its ten entries is ten larger, and the run total is 55 + 100 "
                "= 155. The same reasoning makes the third run 255, and each run adds another hundred. "
                "The last run, from $n minus 9 up to $n, totals $lastblock. So the answer is the sum of "
                "$B numbers 55, 155, ..., $lastblock: the 55s contribute $base55 and the hundreds "
                "contribute 100*(0 + 1 + ... + $Bm1) = $extra. Together: $S.",
            ),
            (
                "Work decade by decade. The first decade 1..10 gives 55. The next decade is the first one "
                "shifted up by ten in each of its ten entries, so +100: 155. Decade totals are 55, 155, "
                "255, ... up to $lastblock for decade number $B. Their sum is $S.",
                "I will add by decades, the way one might on a hundreds chart. Decade one (the numbers "
                "up to 10) is 55, which I remember. Decade two, 11 through 20, repeats decade one with a "
                "ten added to each entry; ten entries times ten extra means 100 more, so 155. Decade "
                "three is 255, decade four 355, and the pattern continues: the totals climb by a "
                "hundred per decade. There are $B decades below $n, the final one totalling "
                "$lastblock. Adding the decade totals: $B times 55 is $base55, plus the hundreds, "
                "100 + 200 + ... which come to $extra. Grand total $S.",
            ),
            (
                "Split the range into $B chunks of 10 consecutive integers. Chunk j (j = 0..$Bm1) holds "
                "10j+1, ..., 10j+10, whose sum is 100j + 55. Total = sum_j (100j + 55) = 100*$triB + "
                "55*$B = $S.",
                "Index the chunks of ten consecutive integers by j = 0, 1, ..., $Bm1; chunk j contains "
                "10j + i for i = 1..10. Its sum is sum_{i=1}^{10} (10j + i) = 100j + 55. The required "
                "total is therefore sum_{j=0}^{$Bm1} (100j + 55) = 100*(sum of j) + 55*$B. The sum of j "
                "over 0..$Bm1 is $triB (small enough to add directly), so the total is "
                "100*$triB + 55*$B = $extra + $base55 = $S.",
            ),
        ],
    },
)

# ---------------------------------------------------------------------------------------------
# Family: a monic quadratic with integer roots (dev)
# ---------------------------------------------------------------------------------------------


def quadratic_values(r1: int, r2: int) -> dict:
    s, p = r1 + r2, r1 * r2
    half = Fraction(s, 2)
    divisors = [d for d in range(1, p + 1) if p % d == 0]
    tried = [d for d in divisors if d <= r1]

    def f(x):
        return x * x - s * x + p

    return dict(
        s=s,
        p=p,
        r1=r1,
        r2=r2,
        D=s * s - 4 * p,
        ssq=s * s,
        fourp=4 * p,
        sqrtD=r2 - r1,
        h=fmt(half),
        hsq=fmt(half * half),
        k=fmt(half * half - p),
        rk=fmt(Fraction(r2 - r1, 2)),
        divs=", ".join(map(str, divisors)),
        trials_a=", ".join(f"f({d}) = {f(d)}" for d in tried),
        trials_b="; ".join(f"x = {d} gives {d * d} - {s * d} + {p} = {f(d)}" for d in tried),
        trials_c=", ".join(f"{d} -> {f(d)}" for d in tried),
        ans=f"x = {r1} or x = {r2}",
        wrong=f"x = {r1} or x = {r2 + 1}",
    )


QUADRATIC = dict(
    name="quadratic_roots",
    part="dev",
    kind="math",
    instances=[dict(r1=2, r2=5), dict(r1=3, r2=6), dict(r1=1, r2=6), dict(r1=4, r2=5)],
    values=lambda inst: quadratic_values(inst["r1"], inst["r2"]),
    prompt="Solve x^2 - $s x + $p = 0.",
    restatements=[
        "We are asked to find every real x with x^2 - $s x + $p = 0. It is a quadratic with leading "
        "coefficient 1, so there are at most two solutions.",
        "The task is to solve the equation x^2 - $s x + $p = 0, i.e. find the roots of the polynomial x^2 - $s x + $p.",
        "Restating: which numbers make x squared minus $s times x plus $p equal to zero? I need all of them.",
        "So we have the quadratic equation x^2 - $s x + $p = 0 and want its solutions. The "
        "coefficients are small integers, which is encouraging.",
        "Problem: determine the zeros of p(x) = x^2 - $s x + $p. Degree two, so two roots counted with multiplicity.",
    ],
    verifications=[
        "Check: substitute each value back. With x = $r1: $r1^2 - $s*$r1 + $p = 0. With x = $r2: "
        "$r2^2 - $s*$r2 + $p = 0. Both work.",
        "Verification by the relations between roots and coefficients: the two values add to $s and "
        "multiply to $p, matching the middle and constant coefficients of x^2 - $s x + $p.",
        "To be safe, expand (x - $r1)(x - $r2) = x^2 - $s x + $p, which is exactly the given "
        "polynomial, so these are the only roots.",
        "Quick sanity check: the parabola opens upward and its lowest point is halfway between the "
        "roots, at x = $h, where the value is negative; so two real roots are expected, and both found "
        "values plug in to zero.",
        "Double-checking the arithmetic once more, I get the same pair of numbers, and plugging either "
        "into the equation gives 0.",
    ],
    setups=[
        "Some preliminary observations. The polynomial is monic, the linear coefficient is -$s and the "
        "constant term is $p. Both are small integers. If the roots are integers they are probably "
        "small too. At x = 0 the polynomial equals $p, which is positive, so zero is not a root. The "
        "equation has degree two, so I expect at most two values and will look for both of them.",
        "Let me note what is given. The equation is x^2 - $s x + $p = 0, equal to zero on the right, "
        "already in standard form, no fractions, no parameters. I do not know in advance whether the "
        "roots are integers, rational or irrational, so whatever I do should work in general, but it "
        "is worth keeping an eye out for nice numbers.",
        "Before computing: a quadratic can have two real roots, one repeated root, or none. Here the "
        "constant $p is positive and the middle coefficient is negative, so if the roots are real they "
        "are both positive (their product is positive and their sum is positive). That is a useful "
        "check to keep in mind for the end.",
        "Setup. Coefficients: a = 1 (leading), middle coefficient -$s, constant $p. I will keep the signs "
        "straight, since sign errors are the usual way to get a quadratic wrong. Also, the roots should "
        "be reported as a set of values of x, not as a factorization.",
        "So the unknown is x and there is a single equation, polynomial of degree two. Positive values "
        "of x make the x^2 term grow, but the -$s x term pulls down, so the polynomial dips below zero "
        "somewhere between and crosses the axis twice, presumably. Let me find the crossing points "
        "exactly.",
    ],
    strategies={
        "factoring": [
            (
                "Look for two numbers whose product is $p and whose sum is $s: they are $r1 and $r2. So "
                "x^2 - $s x + $p = (x - $r1)(x - $r2) = 0, giving x = $r1 or x = $r2.",
                "The constant term is $p and the middle coefficient is -$s, so if the polynomial splits "
                "over the integers it is (x - a)(x - b) with a*b = $p and a + b = $s. Let me list the "
                "ways to write $p as a product of two positive integers and check which pair adds up to "
                "$s. The candidates come from the divisors $divs. The pair $r1 and $r2 multiplies to $p "
                "and adds to $s, exactly what is needed. Hence the polynomial factors as "
                "(x - $r1)(x - $r2). A product is zero only when one of its factors is zero, so either "
                "x - $r1 = 0 or x - $r2 = 0. That gives the two solutions x = $r1 and x = $r2.",
            ),
            (
                "Split the trinomial: which integers multiply to $p and add to $s? $r1 and $r2. Then "
                "(x-$r1)(x-$r2) = 0 and the zero-product property gives $r1, $r2.",
                "A monic trinomial with small integer coefficients often splits into linear factors. "
                "I want integers m and n with m*n = $p (the constant) and m + n = $s (minus the linear "
                "coefficient). Scanning factor pairs of $p, the one with the right sum is m = $r1, "
                "n = $r2. Writing the left-hand side as a product, the equation becomes "
                "(x - $r1)(x - $r2) = 0. By the zero-product property at least one bracket must vanish. "
                "The first bracket vanishes at $r1, the second at $r2, and no other x makes either "
                "bracket zero.",
            ),
            (
                "x^2 - $s x + $p = (x - $r1)(x - $r2) since $r1*$r2 = $p and $r1 + $r2 = $s. Roots: $r1 and $r2.",
                "Try to decompose into linear factors. Suppose x^2 - $s x + $p = (x - u)(x - v). "
                "Expanding the right side, (x - u)(x - v) = x^2 - (u + v)x + uv, so we need u + v = $s "
                "and uv = $p. Among the factorizations of $p, namely into divisors $divs, the choice "
                "u = $r1, v = $r2 satisfies both conditions. Therefore x^2 - $s x + $p = "
                "(x - $r1)(x - $r2), and the equation holds exactly when x equals $r1 or $r2.",
            ),
        ],
        "quadratic_formula": [
            (
                "Apply the quadratic formula with a = 1, b = -$s, c = $p: the discriminant is "
                "$ssq - $fourp = $D, its square root $sqrtD, so x = ($s +/- $sqrtD)/2, i.e. $r1 or $r2.",
                "For a x^2 + b x + c = 0 the roots are (-b +/- sqrt(b^2 - 4ac)) / (2a). Here the "
                "coefficients are a = 1, b = -$s and c = $p. First the discriminant: b^2 - 4ac = $ssq - "
                "$fourp = $D. It is positive, so there are two distinct real roots, and it is a perfect "
                "square with square root $sqrtD, so the roots are rational. Plugging into the formula: "
                "x = ($s + $sqrtD)/2 and x = ($s - $sqrtD)/2. Computing the two fractions gives $r2 and "
                "$r1 respectively. So the solutions are $r1 and $r2.",
            ),
            (
                "Discriminant Delta = b^2 - 4ac = (-$s)^2 - 4*$p = $D, sqrt(Delta) = $sqrtD. Roots "
                "(-b +/- sqrt Delta)/(2a) = ($s +/- $sqrtD)/2 = $r2, $r1.",
                "I will use the general root formula, which always works. Write the equation in "
                "standard form a x^2 + b x + c = 0 with a = 1, b = -$s, c = $p. The discriminant is "
                "Delta = b^2 - 4ac = $ssq - $fourp = $D, and sqrt(Delta) = $sqrtD. Then "
                "x_{1,2} = (-b +/- sqrt(Delta))/(2a) = ($s +/- $sqrtD)/2. Taking the plus sign gives "
                "$r2 and the minus sign gives $r1.",
            ),
            (
                "By the formula x = [$s +/- sqrt($s^2 - 4*$p)]/2 = [$s +/- sqrt($D)]/2 = [$s +/- $sqrtD]/2, "
                "so x is $r1 or $r2.",
                "Nothing fancy: the closed-form solution of a second-degree equation. With leading "
                "coefficient 1, linear coefficient -$s and constant $p, the expression under the square "
                "root is $s squared minus four times $p, i.e. $ssq - $fourp, which is $D. Its root is "
                "$sqrtD. The two solutions are then half of ($s plus $sqrtD) and half of ($s minus "
                "$sqrtD). Evaluating, the larger one is $r2 and the smaller one is $r1.",
            ),
        ],
        "completing_square": [
            (
                "Complete the square: x^2 - $s x = -$p, add ($h)^2 = $hsq to both sides: (x - $h)^2 = $k. "
                "Then x - $h = +/- $rk, so x = $r1 or x = $r2.",
                "Move the constant to the right: x^2 - $s x = -$p. To turn the left side into a perfect "
                "square I add the square of half the linear coefficient, which is ($h)^2 = $hsq, to "
                "both sides. The left side becomes (x - $h)^2 and the right side becomes $hsq - $p = $k. "
                "So (x - $h)^2 = $k. Taking square roots, x - $h equals $rk or minus $rk. Adding $h "
                "back, x = $h + $rk = $r2 or x = $h - $rk = $r1.",
            ),
            (
                "Rewrite x^2 - $s x + $p as (x - $h)^2 - $hsq + $p = (x - $h)^2 - $k. Setting this to "
                "zero, (x - $h)^2 = $k, so x = $h +/- $rk: $r1 and $r2.",
                "The expression x^2 - $s x looks like the start of the square (x - $h)^2, which expands "
                "to x^2 - $s x + $hsq. So x^2 - $s x + $p equals (x - $h)^2 minus $hsq plus $p, i.e. "
                "(x - $h)^2 - $k. The equation now says that a square equals $k. The square root of "
                "$k is $rk, hence the distance from x to $h is $rk. The two points at that distance "
                "from $h are $r1 and $r2.",
            ),
            (
                "(x - $h)^2 = $hsq - $p = $k => |x - $h| = $rk => x in {$r1, $r2}.",
                "Let me shift the variable to kill the linear term: put y = x - $h. Then x = y + $h and "
                "x^2 - $s x + $p = y^2 + $s y + $hsq - $s y - $s*$h + $p, which simplifies to "
                "y^2 - $k. So the equation is y^2 = $k, whose solutions are y = $rk and y = -$rk. "
                "Undoing the shift, x = $h + $rk = $r2 and x = $h - $rk = $r1.",
            ),
        ],
        "test_divisors": [
            (
                "Any integer root must divide $p. Testing f(x) = x^2 - $s x + $p on the divisors: "
                "$trials_a. So $r1 is a root and, since the roots multiply to $p, the other is $r2.",
                "By the rational root theorem, a rational root of a monic polynomial with integer "
                "coefficients is an integer dividing the constant term, here $p. The positive divisors "
                "of $p are $divs (negative ones cannot work, since then every term is positive). So I "
                "just evaluate f(x) = x^2 - $s x + $p at the candidates in increasing order: $trials_a. "
                "The value vanishes at x = $r1, so $r1 is a root. For the second root I can divide out "
                "the factor or simply use that the product of the roots is $p: $p / $r1 = $r2. "
                "Evaluating f at $r2 confirms it is zero too.",
            ),
            (
                "Trial and error with candidates from the divisors of $p: $trials_b. Found $r1; the "
                "other root is $p/$r1 = $r2.",
                "Guess-and-check is efficient here because the candidates are limited: if an integer "
                "x solves the equation, then x(x - $s) = -$p, so x divides $p. Divisors of $p: $divs. "
                "Going through them: $trials_b. That is a hit at $r1. Instead of continuing through "
                "the list I note that the two roots multiply to $p, so the partner is $p divided by $r1, "
                "which is $r2; a final substitution of $r2 gives zero as well.",
            ),
            (
                "Candidates = divisors of $p = {$divs}. Values: $trials_c. Root $r1; by Vieta the other is $r2.",
                "Plan: plug in small numbers and watch for zero. Which numbers are worth plugging in? "
                "Integer roots of x^2 - $s x + $p must be factors of $p, i.e. members of {$divs}. "
                "Evaluating the polynomial at each candidate (candidate -> value): $trials_c. The "
                "polynomial is zero at $r1. Then by Vieta's product rule the remaining root is "
                "$p/$r1 = $r2, which I also check by substitution.",
            ),
        ],
    },
)

# ---------------------------------------------------------------------------------------------
# Family: chickens and rabbits, a word problem (dev)
# ---------------------------------------------------------------------------------------------


def farm_values(heads: int, legs: int) -> dict:
    rabbits = (legs - 2 * heads) // 2
    chickens = heads - rabbits
    r0 = heads // 2  # first guess: half and half, at least 2 away from the truth
    if abs(r0 - rabbits) < 2:
        r0 = rabbits + 4 if rabbits + 4 < heads else rabbits - 4
    c0 = heads - r0
    legs0 = 2 * c0 + 4 * r0
    r1 = (r0 + rabbits) // 2 if r0 > rabbits else (r0 + rabbits + 1) // 2  # strictly between
    c1 = heads - r1
    legs1 = 2 * c1 + 4 * r1
    return dict(
        H=heads,
        L=legs,
        c=chickens,
        r=rabbits,
        twoH=2 * heads,
        fourH=4 * heads,
        excess=legs - 2 * heads,
        short=4 * heads - legs,
        halfL=legs // 2,
        twoc=2 * chickens,
        fourr=4 * rabbits,
        c0=c0,
        r0=r0,
        legs0=legs0,
        c1=c1,
        r1=r1,
        legs1=legs1,
        diff0=abs(legs - legs0),
        ans=f"{chickens} chickens and {rabbits} rabbits",
        wrong=f"{chickens + 1} chickens and {rabbits - 1} rabbits",
    )


FARM = dict(
    name="chickens_rabbits",
    part="dev",
    kind="word",
    instances=[dict(H=35, L=94), dict(H=20, L=56), dict(H=30, L=100), dict(H=24, L=70)],
    values=lambda inst: farm_values(inst["H"], inst["L"]),
    prompt="A farm has chickens and rabbits: $H heads and $L legs in total. How many of each animal are there?",
    restatements=[
        "A farmyard holds only chickens and rabbits. Counting heads gives $H and counting legs gives "
        "$L. We must find how many chickens and how many rabbits there are.",
        "So the puzzle: two kinds of animals, chickens with 2 legs and rabbits with 4 legs. Altogether "
        "$H animals (one head each) and $L legs. Find both counts.",
        "Let me restate the problem. Every animal has one head; chickens stand on two legs, rabbits on "
        "four. The totals are $H heads and $L legs, and the question wants the number of each kind.",
        "The question describes a pen of chickens and rabbits with $H heads and $L legs, and asks for "
        "the number of chickens and the number of rabbits.",
        "We know: heads = $H, legs = $L, and the animals are hens (2 legs) and bunnies (4 legs). "
        "Unknown: how many hens, how many bunnies.",
    ],
    verifications=[
        "Check: $c chickens have $twoc legs and $r rabbits have $fourr legs, together $L legs; and "
        "$c + $r = $H heads. Both totals match.",
        "Verification: the head count $c + $r is $H, and the leg count 2*$c + 4*$r is $L, as given. "
        "Both numbers are non-negative whole numbers, so the answer is sensible.",
        "Let me make sure it is consistent: with $H animals the legs must lie between $twoH (all "
        "chickens) and $fourH (all rabbits); $L is in that range, and our split reproduces exactly "
        "$L legs and $H heads.",
        "Plugging back in: heads $c + $r = $H, correct; legs $twoc + $fourr = $L, correct.",
        "One more look: the numbers are whole and positive, and recounting legs animal by animal "
        "gives $L, heads give $H. Good.",
    ],
    setups=[
        "Let me list the facts. Two species. Chickens: one head, two legs. Rabbits: one head, four "
        "legs. The heads tell me the total number of animals, $H. The legs, $L, carry the information "
        "about the mix, because the two species differ in legs but not in heads. Both answers must be "
        "whole numbers, at least zero, and they must add up to $H.",
        "First, a feasibility check on the data. With $H animals, the fewest legs possible is when all "
        "are two-legged, and the most is when all are four-legged. The given count $L should be between "
        "those extremes and should be even, since every animal has an even number of legs. It is even. "
        "So a solution should exist, and there should be exactly one.",
        "What is being asked: two unknown counts. What is known: two totals. Two pieces of information "
        "for two unknowns, so it should be determined. I need to be careful not to confuse the number "
        "of legs with the number of animals, which is the classic trap in this puzzle.",
        "Before doing anything clever, let me make sure I read the numbers right: $H heads, $L legs. "
        "No other animals are on the farm, no animal is missing a leg, and every animal has exactly one "
        "head. These are the standing assumptions of the puzzle, and the answer will be a pair: the "
        "number of chickens and the number of rabbits.",
        "Thinking about it: if there were more rabbits the leg count would be higher, and with more "
        "chickens it would be lower, with the same number of heads either way. So the leg count pins "
        "down the split. The answer should be reported as two numbers, clearly labelled, since it is "
        "easy to swap them by accident.",
    ],
    strategies={
        "linear_system": [
            (
                "Let c = chickens, r = rabbits. Then c + r = $H and 2c + 4r = $L. Subtract twice the first "
                "equation from the second: 2r = $L - $twoH = $excess, so r = $r and c = $c.",
                "Introduce unknowns: c for the number of chickens and r for the number of rabbits. Each "
                "animal has one head, so c + r = $H. Chickens have two legs and rabbits four, so "
                "2c + 4r = $L. This is a linear system of two equations in two unknowns. Multiply the "
                "head equation by 2 to get 2c + 2r = $twoH and subtract it from the leg equation; the "
                "c terms cancel and 2r = $L - $twoH = $excess. Dividing by two, r = $r. Back-substitute "
                "into c + r = $H: c = $H - $r = $c.",
            ),
            (
                "Equations: x + y = $H, 2x + 4y = $L (x hens, y bunnies). From the first, x = $H - y; "
                "substituting, 2($H - y) + 4y = $L, so $twoH + 2y = $L, y = $r, x = $c.",
                "Algebra makes this mechanical. Let x be the number of hens and y the number of "
                "bunnies. Heads: x + y = $H. Legs: 2x + 4y = $L. Solve the first equation for x, "
                "x = $H - y, and substitute into the second: 2($H - y) + 4y = $L, which simplifies to "
                "$twoH + 2y = $L. Hence 2y = $excess and y = $r. Then x = $H - $r = $c.",
            ),
            (
                "[1 1; 2 4][c; r] = [$H; $L]. Elimination: R2 - 2R1 gives 2r = $excess, r = $r, c = $c.",
                "Write the conditions as a matrix system: the coefficient matrix has rows (1, 1) for "
                "heads and (2, 4) for legs, the unknown vector is (c, r), and the right-hand side is "
                "($H, $L). Row reduce: replace the second row by itself minus twice the first, giving "
                "the row (0, 2 | $excess). So r = $excess/2 = $r. The first row then reads "
                "c + $r = $H, so c = $c. The determinant 1*4 - 1*2 = 2 is non-zero, so this solution "
                "is unique.",
            ),
        ],
        "assume_all_chickens": [
            (
                "Pretend all $H animals are chickens: that is $twoH legs, $excess fewer than $L. Each "
                "rabbit adds 2 extra legs, so there are $excess/2 = $r rabbits and $c chickens.",
                "Suppose for a moment that every animal were a chicken. Then the $H animals would stand "
                "on $twoH legs. The real count is $L, so $excess legs are unaccounted for. Where do "
                "they come from? Replacing one chicken by one rabbit keeps the head count and adds two "
                "legs. To make up $excess legs I need $excess divided by 2 such replacements, i.e. $r "
                "rabbits. The remaining $H - $r = $c animals are chickens.",
            ),
            (
                "If everyone had two legs we would see only $twoH legs; the surplus $L - $twoH = $excess "
                "comes from rabbits' extra pairs of legs: $r rabbits, hence $c chickens.",
                "A classic shortcut: imagine the whole pen contains only two-legged birds. Two legs per "
                "head gives $twoH legs. But we counted $L, a surplus of $excess. Every four-legged "
                "animal carries two legs beyond what a bird would have, so the surplus counts the "
                "rabbits twice: $excess/2 = $r rabbits. The rest of the $H heads, $c of them, belong "
                "to chickens.",
            ),
            (
                "All-chicken baseline: 2*$H = $twoH legs. Missing legs: $excess. Swap chickens for rabbits "
                "(+2 legs per swap): $r swaps. Result: $c chickens, $r rabbits.",
                "Start from a baseline and correct it. Baseline: $H chickens, $twoH legs, $H heads. "
                "The head count already matches, only the legs are short by $L - $twoH = $excess. One "
                "swap of a chicken for a rabbit adds exactly 2 legs and leaves heads unchanged, so the "
                "number of swaps needed is $r. After $r swaps we have $r rabbits and $c chickens.",
            ),
        ],
        "halve_legs": [
            (
                "Ask every animal to lift half of its legs: $L/2 = $halfL legs stay down. Chickens now "
                "stand on 1 leg, rabbits on 2, so $halfL - $H = $r is the number of rabbits; chickens: $c.",
                "Picture a trick: every animal lifts half its legs off the ground. Chickens stand on "
                "one leg and rabbits on two. The number of legs touching the ground is halved, from $L "
                "to $halfL. Now each chicken contributes one leg on the ground and each rabbit two, so "
                "if I subtract one per head, $halfL - $H, what remains is one extra leg per rabbit. "
                "That gives $r rabbits, and the other $c animals are chickens.",
            ),
            (
                "Halve the leg count: $halfL. In these units a chicken counts 1 and a rabbit 2, so the "
                "excess over the head count, $halfL - $H = $r, is the number of rabbits. $c chickens.",
                "Divide everything about legs by two: a chicken then has one 'half-leg-pair' and a "
                "rabbit two, and the total becomes $halfL. Compare with the number of heads, $H: each "
                "animal accounts for at least one unit, and rabbits account for one more. The difference "
                "$halfL - $H = $r counts the rabbits exactly. Chickens are the remaining $H - $r = $c.",
            ),
            (
                "Legs/2 - heads = rabbits: $halfL - $H = $r. Heads - rabbits = chickens: $c.",
                "The number of legs divided by two equals (chickens) + 2(rabbits), because a chicken has "
                "one pair of legs and a rabbit two pairs. So pairs of legs = $halfL. The number of "
                "heads equals (chickens) + (rabbits) = $H. Subtracting these two counts, the chickens "
                "cancel and rabbits = $halfL - $H = $r. Chickens = $H - $r = $c.",
            ),
        ],
        "guess_and_check": [
            (
                "Guess and adjust: $c0 chickens and $r0 rabbits give $legs0 legs; $c1 and $r1 give $legs1; "
                "$c and $r give $L legs. So $c chickens and $r rabbits.",
                "I will just try numbers and refine. A natural first guess splits the heads roughly in "
                "half: $c0 chickens and $r0 rabbits. Their legs: 2*$c0 + 4*$r0 = $legs0, which is "
                "$diff0 away from $L. Moving one animal from chickens to rabbits changes the leg count "
                "by 2, so I adjust in that direction. Next try: $c1 chickens, $r1 rabbits, giving "
                "$legs1 legs. Closer. Continuing the adjustment, $c chickens and $r rabbits give "
                "exactly $L legs with $H heads. Found it.",
            ),
            (
                "Table of trials (chickens, rabbits, legs): ($c0, $r0, $legs0), ($c1, $r1, $legs1), "
                "($c, $r, $L). The last row matches, so $c chickens, $r rabbits.",
                "Let me build a small table, keeping heads at $H and watching the legs.\n"
                "chickens | rabbits | legs\n"
                "$c0 | $r0 | $legs0\n"
                "$c1 | $r1 | $legs1\n"
                "$c | $r | $L\n"
                "Each row trades animals between the columns, and every trade moves the leg total by "
                "two per animal. The third row hits the target $L exactly.",
            ),
            (
                "Try $r0 rabbits: legs = $legs0, wrong. Try $r1 rabbits: $legs1, still wrong. Try $r "
                "rabbits ($c chickens): $L legs, right.",
                "Experimentation: fix the number of rabbits, deduce chickens from the heads, count legs. "
                "With $r0 rabbits there are $c0 chickens and $legs0 legs, not $L. With $r1 rabbits, $c1 "
                "chickens, $legs1 legs, nearer but not equal. Each extra rabbit is worth two more "
                "legs, which tells me how far to move. With $r rabbits and $c chickens I count $L "
                "legs, matching the data.",
            ),
        ],
    },
)

# ---------------------------------------------------------------------------------------------
# Family: remainder of a power (test)
# ---------------------------------------------------------------------------------------------


def power_values(a: int, m: int, k: int) -> dict:
    residues, x = [], 1
    while True:
        x = x * a % m
        residues.append(x)
        if x == 1:
            break
    cycle = len(residues)
    e = next(j for j in range(1, cycle + 1) if pow(a, j, m) in (1, m - 1))
    big = a**e
    sign = "+" if pow(a, e, m) == 1 else "-"
    near = big - 1 if sign == "+" else big + 1
    q, t = divmod(k, e)
    qf, tf = divmod(k, m - 1)
    qc, tc = divmod(k, cycle)
    bits = bin(k)[2:]
    squares, y = [], a % m
    for j in range(len(bits)):
        squares.append((2**j, y))
        y = y * y % m
    used = [(p, v) for (p, v), bit in zip(squares, reversed(bits)) if bit == "1"]
    answer = pow(a, k, m)
    sign_q = 1 if (sign == "+" or q % 2 == 0) else -1
    return dict(
        a=a,
        m=m,
        k=k,
        cycle=cycle,
        res=", ".join(map(str, residues)),
        res_pow=", ".join(f"{a}^{j + 1} -> {r}" for j, r in enumerate(residues)),
        res_list=" ".join(f"{r}," for r in residues).rstrip(","),
        qc=qc,
        tc=tc,
        mm1=m - 1,
        qf=qf,
        tf=tf,
        e=e,
        big=big,
        near=near,
        sign=sign,
        q=q,
        t=t,
        sgn_word="+1" if sign_q == 1 else "-1",
        at=pow(a, t),
        at_mod=pow(a, t, m),
        bits=bits,
        sq_a=", ".join(f"{a}^{p} = {v}" for p, v in squares),
        sq_b="; ".join(f"{a}^{p} mod {m} is {v}" for p, v in squares),
        powers_used=" * ".join(f"{a}^{p}" for p, _ in used),
        values_used=" * ".join(str(v) for _, v in used),
        ans=str(answer),
        wrong=str((answer + 1) % m),
    )


POWER = dict(
    name="power_remainder",
    part="test",
    kind="math",
    instances=[dict(a=7, m=5, k=2023), dict(a=2, m=7, k=100), dict(a=5, m=13, k=50), dict(a=3, m=7, k=50)],
    values=lambda inst: power_values(inst["a"], inst["m"], inst["k"]),
    prompt="What is the remainder when $a^$k is divided by $m?",
    restatements=[
        "We want $a^$k mod $m, the remainder left when $a raised to the power $k is divided by $m. The "
        "number itself is astronomically large, so computing it outright is out of the question.",
        "The question asks for the remainder of $a to the $k-th power upon division by $m. The answer "
        "is one of 0, 1, ..., $mm1.",
        "Restating: find r with 0 <= r < $m such that $a^$k = $m*q + r for some integer q.",
        "Okay: divide $a^$k by $m and report what is left over. The exponent $k is large.",
        "So I need the residue class of $a^$k modulo $m.",
    ],
    verifications=[
        "Check with a smaller exponent using the same reasoning: it reproduces the directly computed "
        "small powers of $a modulo $m, so I am fairly confident the remainder is $ans.",
        "As a cross-check, the result $ans lies in 0..$mm1, is not 0 (since $m does not divide any "
        "power of $a), and agrees with a quick recomputation of the last steps.",
        "Verifying: I redo the reduction of the exponent and the final small power, and again obtain $ans modulo $m.",
        "Sanity check: $m is prime and does not divide $a, so the remainder cannot be zero; $ans is a "
        "non-zero residue, consistent.",
        "Let me double check the final multiplication modulo $m once more. Yes, it gives $ans.",
    ],
    setups=[
        "Some context first. The base $a is small, the modulus $m is small, and the exponent $k is huge. "
        "Writing out $a^$k in full would take many digits, so the whole point is to avoid that and work "
        "with remainders only. Remainders behave well under multiplication: the remainder of a product "
        "depends only on the remainders of the factors. That is what makes this tractable.",
        "What do I know about $m? It is prime. And $a is not a multiple of $m, so no power of $a is "
        "divisible by $m, and the answer cannot be zero. The answer is one of the numbers 1 through "
        "$mm1. I need to figure out which one, and I want a method where every intermediate number is "
        "small.",
        "Let me be precise about what remainder means here: the unique integer r between 0 and $mm1 "
        "with $a^$k - r divisible by $m. Since only the remainder matters, I may replace any number by "
        "another one with the same remainder at any point of the computation. That freedom is the key "
        "tool in everything below.",
        "Setup: base $a, exponent $k, divisor $m. Direct evaluation is hopeless because $a^$k has far "
        "too many digits. Approach in general terms: reduce the problem to a much smaller power, or "
        "build up the power in a way that keeps numbers below $m times $m at every step.",
        "Okay. A huge exponent and a small modulus is a typical situation in modular arithmetic, and I "
        "should keep the arithmetic modulo $m throughout. I also want to be careful about off-by-one "
        "mistakes with the exponent, which are the usual pitfall in these problems.",
    ],
    strategies={
        "cycle_of_powers": [
            (
                "Powers of $a modulo $m: $res. They repeat every $cycle steps. Since $k = $cycle*$qc + $tc, "
                "the remainder equals that of the exponent $tc in the cycle (exponent $cycle if $tc is 0), "
                "i.e. $ans.",
                "Let me just compute the first few powers of $a and reduce each modulo $m, multiplying "
                "the previous remainder by $a each time so the numbers stay small. The remainders come "
                "out as $res. The last one is 1, so from there on the list starts over: the remainders "
                "are periodic with period $cycle. To find where exponent $k lands in this period, divide "
                "$k by $cycle: the quotient is $qc and the remainder is $tc. So $a^$k has the same "
                "remainder as the power at position $tc of the cycle (a remainder of 0 meaning the "
                "last position). Reading it off the list gives $ans.",
            ),
            (
                "Listing $res_pow, the residues repeat with period $cycle. $k mod $cycle = $tc, so "
                "$a^$k leaves remainder $ans.",
                "The remainders of successive powers must eventually repeat, since there are only "
                "finitely many possible remainders; so I look for the repetition. Tabulating: "
                "$res_pow. After $cycle steps we are back at 1 and the pattern restarts. Hence only "
                "the exponent modulo $cycle matters. Dividing, $k leaves $tc when divided by $cycle "
                "(quotient $qc). Looking up that spot in the table (a zero meaning the final spot "
                "$cycle), the remainder is $ans.",
            ),
            (
                "Sequence $a^n mod $m for n = 1, 2, ...: $res_list; repeats, length $cycle. "
                "$k = $qc*$cycle + $tc -> answer $ans.",
                "Pattern hunting. Multiply by $a and reduce mod $m repeatedly: $res_list. The value 1 "
                "shows up after $cycle multiplications, so the sequence is periodic with length "
                "$cycle. Write $k as $qc full periods plus $tc extra steps. The full periods "
                "contribute nothing, and the leftover steps land on $ans.",
            ),
        ],
        "fermat": [
            (
                "$m is prime and does not divide $a, so by Fermat's little theorem $a^$mm1 = 1 (mod $m). "
                "Write $k = $mm1*$qf + $tf; then $a^$k = $a^$tf (mod $m) = $ans.",
                "Because $m is a prime that does not divide $a, Fermat's little theorem applies: "
                "$a^($m - 1) = $a^$mm1 is congruent to 1 modulo $m. That means exponents can be "
                "reduced modulo $mm1 without changing the remainder. Division gives $k = $mm1*$qf + "
                "$tf. Therefore $a^$k = ($a^$mm1)^$qf * $a^$tf, and the first factor is congruent to "
                "1, leaving $a^$tf. Computing this small power and reducing it modulo $m, I get $ans.",
            ),
            (
                "FLT: a^(p-1) = 1 mod p for prime p not dividing a. Here p = $m, so reduce $k mod $mm1: "
                "$tf. $a^$tf mod $m = $ans.",
                "A number-theory theorem does the heavy lifting. For a prime p and an integer a not "
                "divisible by p, Fermat tells us a^(p-1) leaves remainder 1 on division by p. With "
                "p = $m the key exponent is $mm1. Any multiple of $mm1 in the exponent can be thrown "
                "away: $k leaves remainder $tf when divided by $mm1, so $a^$k and $a^$tf have the same "
                "remainder. That remainder is $ans.",
            ),
            (
                "$a^$k = ($a^$mm1)^$qf * $a^$tf = 1^$qf * $a^$tf (mod $m), Fermat. So answer = $a^$tf mod $m = $ans.",
                "Since gcd($a, $m) = 1 and $m is prime, the little theorem of Fermat gives "
                "$a^$mm1 = 1 (mod $m). Split the exponent: $k = $qf*$mm1 + $tf. Then "
                "$a^$k = ($a^$mm1)^$qf * $a^$tf = 1^$qf * $a^$tf = $a^$tf (mod $m). Evaluating the "
                "last power modulo $m gives $ans.",
            ),
        ],
        "binomial": [
            (
                "Note $a^$e = $big = $near $sign 1, a multiple of $m $sign 1. With $k = $e*$q + $t, "
                "$a^$k = ($near $sign 1)^$q * $a^$t; expanding binomially every term but the last has "
                "a factor $m, so the remainder is that of ($sign 1)^$q * $at, which is $ans.",
                "The useful observation is that a small power of $a sits right next to a multiple of "
                "$m: $a^$e = $big, and $big is $near $sign 1 where $near is divisible by $m. Write the "
                "exponent as $k = $e*$q + $t. Then $a^$k = ($near $sign 1)^$q times $a^$t. Expand "
                "($near $sign 1)^$q by the binomial theorem: every term except the last contains "
                "the factor $near, hence $m. Only ($sign 1)^$q survives modulo $m, which is "
                "$sgn_word. Multiply by $a^$t = $at and reduce: the remainder is $ans.",
            ),
            (
                "$a^$e is $big, one away from the multiple $near of $m. Raise ($near $sign 1) to the "
                "$q-th power with the binomial expansion: only the ($sign 1)^$q term matters mod $m. "
                "Times $a^$t = $at gives $ans.",
                "I look for a power of $a that is a multiple of $m plus or minus one. $a^$e = $big "
                "works, being $near $sign 1. Then $a^$k = ($a^$e)^$q * $a^$t with $q = $k div $e and "
                "$t = $k mod $e. In the binomial expansion of ($near $sign 1)^$q, each term with "
                "a power of $near is divisible by $m and vanishes modulo $m; what remains is "
                "($sign 1)^$q = $sgn_word. The leftover factor $a^$t equals $at. Combining and "
                "reducing modulo $m gives $ans.",
            ),
            (
                "$a^$k = ($a^$e)^$q $a^$t = ($near $sign 1)^$q $a^$t = sum C($q, i) $near^i ($sign 1)^($q-i) "
                "* $at = ($sign 1)^$q * $at (mod $m) = $ans.",
                "Write $a^$e = $near $sign 1 and $k = $q*$e + $t. By the binomial theorem, "
                "($near $sign 1)^$q = sum_i C($q, i) $near^i ($sign 1)^($q - i). For i >= 1 the term is "
                "a multiple of $near, hence of $m; the i = 0 term is ($sign 1)^$q = $sgn_word. So "
                "$a^$k is congruent to $sgn_word * $at modulo $m, and reducing, the remainder is $ans.",
            ),
        ],
        "repeated_squaring": [
            (
                "Square repeatedly mod $m: $sq_a. In binary $k = $bits, so $a^$k = $powers_used, "
                "i.e. the product $values_used reduced mod $m: $ans.",
                "Fast exponentiation: compute $a raised to powers of two by repeated squaring, reducing "
                "modulo $m after each squaring so the numbers stay tiny. This gives $sq_a. Next, write "
                "the exponent in base two: $k is $bits in binary. The ones in this binary expansion "
                "say which powers of two to combine, so $a^$k is the product $powers_used. Replacing "
                "each factor by its remainder, the product is $values_used, and reducing it modulo $m "
                "step by step gives $ans.",
            ),
            (
                "Binary exponentiation: $k = ($bits)_2. Successive squares: $sq_b. Multiply the ones "
                "selected by the set bits ($values_used) mod $m to get $ans.",
                "I will compute the power the way a computer would, with square-and-multiply. The "
                "binary digits of $k are $bits. Going through the squares: $sq_b. Every set bit of the "
                "exponent contributes its square to the product, so I multiply $values_used, taking "
                "the remainder mod $m after each multiplication. The final remainder is $ans.",
            ),
            (
                "x_0 = $a, x_(j+1) = x_j^2 mod $m: $sq_a. $k in base 2 is $bits; product of the selected "
                "x_j: $values_used = $ans (mod $m).",
                "Define x_j as $a^(2^j) mod $m, obtained by squaring the previous value and reducing. "
                "The table of x_j is $sq_a. Expanding $k in powers of two (bits $bits) writes $a^$k "
                "as a product of some of these x_j, namely $powers_used. Multiplying the "
                "corresponding residues $values_used and reducing, the remainder is $ans.",
            ),
        ],
    },
)

# ---------------------------------------------------------------------------------------------
# Family: area of a lattice triangle (test)
# ---------------------------------------------------------------------------------------------


def triangle_values(ax: int, bx: int, y0: int, cx: int, cy: int) -> dict:
    base, h = bx - ax, cy - y0
    area = Fraction(base * h, 2)
    left, right = Fraction((cx - ax) * h, 2), Fraction((bx - cx) * h, 2)
    g1, g2 = math.gcd(cx - ax, h), math.gcd(bx - cx, h)
    boundary = base + g1 + g2
    interior = area - Fraction(boundary, 2) + 1
    t1 = ax * y0 - bx * y0
    t2 = bx * cy - cx * y0
    t3 = cx * y0 - ax * cy
    return dict(
        ax=ax,
        bx=bx,
        y0=y0,
        cx=cx,
        cy=cy,
        A=f"A({ax}, {y0})",
        Bp=f"B({bx}, {y0})",
        C=f"C({cx}, {cy})",
        base=base,
        h=h,
        area=fmt(area),
        twice=fmt(2 * area),
        rect=base * h,
        lw=cx - ax,
        rw=bx - cx,
        left=fmt(left),
        right=fmt(right),
        g1=g1,
        g2=g2,
        Bd=boundary,
        Bhalf=fmt(Fraction(boundary, 2)),
        I=fmt(interior),
        t1=t1,
        t2=t2,
        t3=t3,
        ux=bx - ax,
        vx=cx - ax,
        vy=cy - y0,
        ans=fmt(area),
        wrong=fmt(area + base),
    )


TRIANGLE = dict(
    name="triangle_area",
    part="test",
    kind="math",
    instances=[
        dict(ax=1, bx=9, y0=2, cx=4, cy=7),
        dict(ax=0, bx=6, y0=1, cx=2, cy=5),
        dict(ax=2, bx=12, y0=3, cx=5, cy=9),
        dict(ax=1, bx=9, y0=1, cx=7, cy=7),
    ],
    values=lambda inst: triangle_values(**inst),
    prompt="Find the area of the triangle with vertices A($ax, $y0), B($bx, $y0) and C($cx, $cy).",
    restatements=[
        "We have a triangle whose corners are $A, $Bp and $C in the coordinate plane, and we need its area.",
        "The problem gives three points, $A, $Bp, $C, and asks for the area enclosed by the triangle they form.",
        "Restating: compute the area of triangle ABC, where A = ($ax, $y0), B = ($bx, $y0), "
        "C = ($cx, $cy). All coordinates are integers.",
        "So the question is about the region bounded by the segments AB, BC and CA for the given "
        "vertices $A, $Bp, $C. Its area is what we want.",
        "Let me restate. Vertices: $A, $Bp, $C. Goal: area of the triangle they span.",
    ],
    verifications=[
        "Check: the area must be less than that of the smallest axis-parallel rectangle around the "
        "triangle, $base by $h, i.e. $rect, and a triangle with a side along the rectangle's edge and "
        "the opposite vertex on the far edge fills exactly half of it. $ans is half of $rect. Good.",
        "As a quick sanity check, I sketch the points: the triangle is not degenerate, since C is not "
        "on the line through A and B, and the value $ans is a positive number of reasonable size.",
        "Verifying with a rough estimate: the triangle is roughly $base wide and $h tall, so its area "
        "should be about half of $rect. That is $ans.",
        "Double-checking the arithmetic once more gives $ans again; the area is in square units.",
        "Because all vertices are lattice points, twice the area must be an integer; 2 * $ans = "
        "$twice is, so the result is at least consistent.",
    ],
    setups=[
        "Let me first get a picture. A is at ($ax, $y0) and B is at ($bx, $y0), so they are at the same "
        "height, and C is at ($cx, $cy), higher up, with its x-coordinate between those of A and B. "
        "So the triangle sits on its side AB with the apex C above it. All coordinates are whole "
        "numbers. The area is a positive number, in square units.",
        "Some observations before computing. The three points are not collinear, because C is not on "
        "the line through A and B, so the triangle is a genuine triangle with positive area. The "
        "coordinates are small integers, which means twice the area will be an integer. The triangle "
        "spans from x = $ax to x = $bx horizontally and from y = $y0 to y = $cy vertically.",
        "What is given: three vertices with integer coordinates. What is asked: one number, the area. "
        "There are several ways to get the area of a triangle from coordinates, and any of them should "
        "give the same result, so I can pick whichever seems least error-prone here and then check.",
        "I will keep the vertex labels straight: A = ($ax, $y0), B = ($bx, $y0), C = ($cx, $cy). It is "
        "easy to mix up x and y coordinates when substituting, so I will write them down explicitly. "
        "The answer should be in square units and can be a half-integer in general.",
        "First a rough idea of the size: the triangle fits in a region about $base wide and $h tall, so "
        "its area is at most $rect and probably around half of that. That gives me a sanity check for "
        "later. Now for an exact computation.",
    ],
    strategies={
        "shoelace": [
            (
                "Shoelace formula: 2*Area = |x_A y_B - x_B y_A + x_B y_C - x_C y_B + x_C y_A - x_A y_C| "
                "= |$t1 + $t2 + $t3| = $twice, so the area is $ans.",
                "For a polygon with known vertices, the surveyor's formula gives the area directly: "
                "list the vertices in order, form the cross products x_i y_(i+1) - x_(i+1) y_i for "
                "consecutive vertices (wrapping around), add them, and take half the absolute value. "
                "Going A -> B -> C -> A: the term for A,B is $ax*$y0 - $bx*$y0 = $t1; for B,C it is "
                "$bx*$cy - $cx*$y0 = $t2; for C,A it is $cx*$y0 - $ax*$cy = $t3. The total is $twice "
                "in absolute value, and half of it is $ans.",
            ),
            (
                "Write the coordinates in a column, repeat the first, and cross-multiply: the "
                "down-right products minus the up-right products give $twice. Half: $ans.",
                "I will arrange the coordinates in two columns, x and y, listing A, B, C and then A "
                "again at the bottom. Multiplying diagonally downward to the right and summing, then "
                "subtracting the products taken diagonally the other way, the shoelace pattern yields "
                "the partial terms $t1, $t2 and $t3, which add to $twice. The area is half of the "
                "absolute value, so $ans square units.",
            ),
            (
                "Area = (1/2)|sum_i (x_i y_(i+1) - x_(i+1) y_i)| over A, B, C: (1/2)|$t1 + $t2 + $t3| = $ans.",
                "Gauss's area formula for a simple polygon, applied to the triangle with vertices "
                "(x_1, y_1) = ($ax, $y0), (x_2, y_2) = ($bx, $y0), (x_3, y_3) = ($cx, $cy):\n"
                "Area = (1/2) | (x_1 y_2 - x_2 y_1) + (x_2 y_3 - x_3 y_2) + (x_3 y_1 - x_1 y_3) |.\n"
                "The three brackets evaluate to $t1, $t2 and $t3, their sum is $twice, so the area is "
                "$ans.",
            ),
        ],
        "enclosing_rectangle": [
            (
                "Enclose the triangle in the rectangle from x = $ax to $bx and y = $y0 to $cy, area "
                "$base*$h = $rect. Cut away the two right triangles at the sides, $left and $right. "
                "Remaining area: $rect - $left - $right = $ans.",
                "Draw the smallest box with horizontal and vertical sides that contains the triangle: "
                "it spans x from $ax to $bx and y from $y0 to $cy, so it is $base by $h with area $rect. "
                "The triangle touches the bottom side along AB and the top side at C. What lies inside "
                "the box but outside the triangle are two right-angled pieces: on the left, legs $lw "
                "and $h, area $left; on the right, legs $rw and $h, area $right. Removing them from the "
                "box leaves $rect - $left - $right = $ans.",
            ),
            (
                "Box it in: a $base by $h rectangle ($rect). Subtract the corner right triangles "
                "($lw x $h / 2 = $left and $rw x $h / 2 = $right). What is left, $ans, is our triangle.",
                "A subtraction approach: the triangle is what remains of a rectangle once some easy "
                "pieces are removed. The bounding rectangle has width $base and height $h, hence area "
                "$rect. Two right triangles sit in the corners between the rectangle and our "
                "triangle: one with legs $lw and $h (area $left), the other with legs $rw and $h "
                "(area $right). Subtracting both: $rect minus $left minus $right equals $ans.",
            ),
            (
                "Area = rectangle - corner pieces = $rect - ($left + $right) = $ans.",
                "Let R be the axis-aligned rectangle [$ax, $bx] x [$y0, $cy], with area $rect. The "
                "complement of the triangle in R consists of two right triangles, T_left with legs "
                "$lw, $h and T_right with legs $rw, $h. Their areas are $left and $right. Therefore "
                "area(ABC) = area(R) - area(T_left) - area(T_right) = $ans.",
            ),
        ],
        "picks_theorem": [
            (
                "All vertices are lattice points, so Pick's theorem applies: Area = I + B/2 - 1. "
                "Boundary points: $base on AB, $g1 on AC, $g2 on BC (gcd of the coordinate "
                "differences), B = $Bd. Counting interior points row by row gives I = $I. Area = $I + "
                "$Bhalf - 1 = $ans.",
                "With integer coordinates I can count lattice points instead of measuring. Pick's "
                "theorem says the area of a lattice polygon equals the number of interior lattice "
                "points plus half the number of boundary lattice points minus one. Boundary points: "
                "a segment from (x1, y1) to (x2, y2) carries gcd(|dx|, |dy|) lattice points if we count "
                "one endpoint per side. AB gives gcd($base, 0) = $base, AC gives $g1, BC gives $g2, so "
                "$Bd boundary points. Interior points, counted row by row between the sides: $I. "
                "Therefore the area is $I + $Bd/2 - 1 = $ans.",
            ),
            (
                "Count grid points: $Bd on the edges and $I strictly inside. Pick: A = i + b/2 - 1 = "
                "$I + $Bhalf - 1 = $ans.",
                "The vertices lie on the integer grid, so I will use the lattice-point count formula "
                "of Pick. Along the edges: the bottom edge passes through $base grid points (counting "
                "one end), the left edge through $g1 and the right edge through $g2, total $Bd. "
                "Strictly inside, scanning each horizontal grid line, I find $I points. Then "
                "area = interior + boundary/2 - 1 = $I + $Bhalf - 1 = $ans.",
            ),
            (
                "Pick: A = I + B/2 - 1 with B = gcd($base,0) + gcd($lw,$h) + gcd($rw,$h) = $Bd and "
                "I = $I, so A = $ans.",
                "Lattice polygon, so A = I + B/2 - 1 (Pick). B, the number of boundary lattice points, "
                "is the sum over the edges of gcd(|dx|, |dy|): $base + $g1 + $g2 = $Bd. I, the number of "
                "interior lattice points, found by counting column by column: $I. "
                "A = $I + $Bhalf - 1 = $ans.",
            ),
        ],
        "base_height": [
            (
                "A and B have the same y-coordinate, so AB is horizontal with length $base. The height "
                "from C is the vertical distance $cy - $y0 = $h. Area = (1/2)*$base*$h = $ans.",
                "Notice that A and B share the y-coordinate $y0, so side AB lies on a horizontal line. "
                "That makes AB a convenient base: its length is simply the difference of the "
                "x-coordinates, $bx - $ax = $base. The altitude to this base is the perpendicular "
                "distance from C to the line y = $y0, which is just the difference of y-coordinates, "
                "$cy - $y0 = $h. The area of a triangle is one half of base times height, so "
                "(1/2)*$base*$h = $ans.",
            ),
            (
                "Take AB as the base: |AB| = $base, lying on y = $y0. C is $h units above that line. "
                "Half of $base times $h is $ans.",
                "The side AB is parallel to the x-axis, so I use it as the base, of length $base. "
                "The third vertex C is at height $cy, so it sits $h units above the base line. The "
                "usual formula, half the product of a base and its altitude, gives "
                "$base x $h / 2 = $ans.",
            ),
            (
                "b = |$bx - $ax| = $base, h = dist(C, line AB) = |$cy - $y0| = $h, Area = bh/2 = $ans.",
                "Let b be the length of AB and h the distance from C to line AB. Since line AB is "
                "y = $y0, we have b = |$bx - $ax| = $base and h = |$cy - $y0| = $h. "
                "Therefore Area = b*h/2 = $base*$h/2 = $ans.",
            ),
        ],
    },
)

# ---------------------------------------------------------------------------------------------
# Family: Fibonacci numbers in Python, a code family (test)
# ---------------------------------------------------------------------------------------------


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def fib_values(n: int) -> dict:
    phi = (1 + 5**0.5) / 2
    return dict(
        n=n,
        F=fib(n),
        F1=fib(n - 1),
        F2=fib(n - 2),
        Fp1=fib(n + 1),
        calls=2 * fib(n + 1) - 1,
        binet=f"{phi**n / 5**0.5:.4f}",
        phin=f"{phi**n:.3f}",
        ans=str(fib(n)),
        wrong=str(fib(n) + fib(n - 3)),
    )


FIBONACCI = dict(
    name="fibonacci_code",
    part="test",
    kind="code",
    instances=[dict(n=10), dict(n=15), dict(n=20), dict(n=25)],
    values=lambda inst: fib_values(inst["n"]),
    prompt="Write a Python function fib(n) returning the n-th Fibonacci number (fib(0) = 0, fib(1) = 1) "
    "and give fib($n).",
    restatements=[
        "The task: implement fib(n) in Python, where the Fibonacci numbers start 0, 1 and each later "
        "one is the sum of the previous two, then report fib($n).",
        "We need a Python function that returns the n-th Fibonacci number with fib(0) = 0 and "
        "fib(1) = 1, and also the value it gives for n = $n.",
        "Restating the request: code for the Fibonacci sequence (0, 1, 1, 2, 3, 5, ...) indexed from "
        "zero, plus the concrete value at index $n.",
        "So I have to write fib(n) and evaluate it at $n. The convention is F(0) = 0, F(1) = 1, "
        "F(k) = F(k-1) + F(k-2).",
        "Let me restate: a function mapping n to the n-th term of 0, 1, 1, 2, 3, 5, 8, ..., and the "
        "output for input $n.",
    ],
    verifications=[
        "Testing the function on small inputs: fib(0) = 0, fib(1) = 1, fib(2) = 1, fib(5) = 5, "
        "fib(10) = 55, all correct. For n = $n it returns $F.",
        "Quick check: fib($n) should equal fib($n - 1) + fib($n - 2) = $F1 + $F2 = $F. It does.",
        "Sanity check of the output against the known sequence: 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, "
        "... continuing the list up to index $n gives $F as well.",
        "I also ran a few asserts mentally: assert fib(1) == 1, assert fib(7) == 13, and the value at $n is $F.",
        "Double-check: the ratio of consecutive Fibonacci numbers approaches 1.618, and $F / $F1 is "
        "about that, so $F is plausible for index $n.",
    ],
    setups=[
        "A few considerations before writing code. The indexing convention matters: with fib(0) = 0 and "
        "fib(1) = 1 the sequence is 0, 1, 1, 2, 3, 5, 8, 13, ... so fib(6) = 8. The function should "
        "accept a non-negative integer and return an integer. Python integers have arbitrary precision, "
        "so overflow is not a concern for exact methods.",
        "Let me think about requirements. Correctness first: the function must match the recurrence for "
        "every n >= 0, including the two base cases. Then efficiency, which matters only if n can be "
        "large; the question asks for n = $n, which is small, but a good solution should not be "
        "needlessly slow. Readability also counts.",
        "Quick recap of the sequence: each term is the sum of the two before it, starting from 0 and 1. "
        "The values grow roughly geometrically, by a factor of about 1.618 each step, so fib($n) will "
        "have a handful of digits. I will write the function and then evaluate it at $n.",
        "Inputs and outputs: input an integer n >= 0, output the n-th term. Edge cases: n = 0 should give "
        "0 and n = 1 should give 1. Negative n is outside the specification, so I will not handle it "
        "specially. I will include the code in a fenced block.",
        "Before coding, let me fix the convention, because off-by-one indexing is the most common bug "
        "here: fib(0) = 0, fib(1) = 1, fib(2) = 1, fib(3) = 2, fib(4) = 3, fib(5) = 5. Any correct "
        "implementation must reproduce exactly these values.",
    ],
    strategies={
        "naive_recursion": [
            (
                "Direct translation of the definition:\n```python\ndef fib(n):\n    if n < 2:\n"
                "        return n\n    return fib(n - 1) + fib(n - 2)\n```\nIt recomputes subproblems "
                "(exponential time) but is fine for n = $n: fib($n) = $F.",
                "The definition is recursive, so the most literal implementation is a function that "
                "calls itself on the two previous indices and stops at the two base cases.\n"
                "```python\ndef fib(n):\n    if n < 2:\n        return n\n"
                "    return fib(n - 1) + fib(n - 2)\n```\n"
                "For n = 0 and n = 1 it returns n itself, matching F(0) = 0 and F(1) = 1. For larger n "
                "it adds the results of the two recursive calls. The drawback is the running time: the "
                "call tree branches twice at every level and the same values are recomputed many "
                "times, so the number of calls grows exponentially; for n = $n it makes $calls calls, "
                "still quick. The function returns fib($n) = $F.",
            ),
            (
                "Recursive version:\n```python\ndef fib(k):\n    return k if k <= 1 else fib(k - 1) + "
                "fib(k - 2)\n```\nCalling fib($n) gives $F ($calls calls, exponential growth).",
                "Simplest possible code: mirror the mathematical recurrence with a self-call.\n"
                "```python\ndef fib(k):\n    return k if k <= 1 else fib(k - 1) + fib(k - 2)\n```\n"
                "The conditional expression handles the seeds 0 and 1; otherwise the function sums "
                "the two smaller cases. Since nothing is cached, the computation tree for fib(k) has "
                "about phi^k leaves, so this is only practical for small k. At k = $n the tree has "
                "$calls nodes and evaluates to $F.",
            ),
            (
                "```python\ndef fib(n: int) -> int:\n    if n == 0:\n        return 0\n    if n == 1:\n"
                "        return 1\n    return fib(n - 2) + fib(n - 1)\n```\nTop-down recursion "
                "straight from the recurrence; fib($n) = $F.",
                "I will follow the recurrence literally, top-down, with the base cases spelled out.\n"
                "```python\ndef fib(n: int) -> int:\n    if n == 0:\n        return 0\n    if n == 1:\n"
                "        return 1\n    return fib(n - 2) + fib(n - 1)\n```\n"
                "Each call spawns two more until it reaches 0 or 1, so the cost is exponential in n "
                "(the same subproblem fib(n - 2) is solved again inside fib(n - 1)). For inputs around "
                "$n that is harmless. Evaluating: fib($n) = $F.",
            ),
        ],
        "iterative_loop": [
            (
                "Keep the last two values and step forward:\n```python\ndef fib(n):\n    a, b = 0, 1\n"
                "    for _ in range(n):\n        a, b = b, a + b\n    return a\n```\nLinear time, "
                "constant memory; fib($n) = $F.",
                "Rather than recursing, I can walk up the sequence from the bottom, remembering only "
                "the two most recent terms.\n```python\ndef fib(n):\n    a, b = 0, 1\n"
                "    for _ in range(n):\n        a, b = b, a + b\n    return a\n```\n"
                "The pair (a, b) starts as (F(0), F(1)); each pass of the loop shifts the window one "
                "step, so after i passes it holds (F(i), F(i+1)). After n passes a is F(n). The loop "
                "runs n times and uses two variables, so time is linear and memory constant. For "
                "n = $n the loop ends with a = $F.",
            ),
            (
                "```python\ndef fib(n):\n    prev, cur = 0, 1\n    for i in range(n):\n"
                "        prev, cur = cur, prev + cur\n    return prev\n```\nA bottom-up loop over "
                "n steps, so fib($n) = $F in O(n).",
                "An iterative, bottom-up computation suffices.\n```python\ndef fib(n):\n"
                "    prev, cur = 0, 1\n    for i in range(n):\n        prev, cur = cur, prev + cur\n"
                "    return prev\n```\n"
                "Invariant: before iteration i, prev is F(i) and cur is F(i+1). The simultaneous "
                "assignment advances both. The work is one addition per iteration, n iterations in "
                "total, and no recursion depth to worry about. Running it with n = $n returns $F.",
            ),
            (
                "Loop with a while:\n```python\ndef fib(n):\n    x, y, i = 0, 1, 0\n    while i < n:\n"
                "        x, y = y, x + y\n        i += 1\n    return x\n```\nfib($n) -> $F.",
                "Use a counter and two running values.\n```python\ndef fib(n):\n    x, y, i = 0, 1, 0\n"
                "    while i < n:\n        x, y = y, x + y\n        i += 1\n    return x\n```\n"
                "x and y always hold consecutive Fibonacci numbers; each trip through the while "
                "loop slides them forward by one index, and we stop when the counter reaches n. "
                "That takes n iterations with O(1) extra space. Tracing a few steps: (0, 1), (1, 1), "
                "(1, 2), (2, 3), (3, 5), ... and at i = $n, x = $F.",
            ),
        ],
        "matrix_power": [
            (
                "Use [[1, 1], [1, 0]]^n = [[F(n+1), F(n)], [F(n), F(n-1)]] with fast exponentiation:\n"
                "```python\ndef mat_mul(A, B):\n    return [[A[0][0]*B[0][0] + A[0][1]*B[1][0], "
                "A[0][0]*B[0][1] + A[0][1]*B[1][1]],\n            [A[1][0]*B[0][0] + A[1][1]*B[1][0], "
                "A[1][0]*B[0][1] + A[1][1]*B[1][1]]]\n\ndef fib(n):\n    result, M = [[1, 0], [0, 1]], "
                "[[1, 1], [1, 0]]\n    while n:\n        if n & 1:\n            result = mat_mul(result, "
                "M)\n        M = mat_mul(M, M)\n        n >>= 1\n    return result[0][1]\n```\n"
                "O(log n) multiplications; fib($n) = $F.",
                "There is a logarithmic-time method based on linear algebra. The step (F(k+1), F(k)) -> "
                "(F(k+2), F(k+1)) is multiplication by the matrix Q = [[1, 1], [1, 0]], so Q^n = "
                "[[F(n+1), F(n)], [F(n), F(n-1)]]. Raising Q to the n-th power by repeated squaring "
                "needs only about log2(n) matrix products.\n"
                "```python\ndef mat_mul(A, B):\n    return [[A[0][0]*B[0][0] + A[0][1]*B[1][0], "
                "A[0][0]*B[0][1] + A[0][1]*B[1][1]],\n            [A[1][0]*B[0][0] + A[1][1]*B[1][0], "
                "A[1][0]*B[0][1] + A[1][1]*B[1][1]]]\n\ndef fib(n):\n    result, M = [[1, 0], [0, 1]], "
                "[[1, 1], [1, 0]]\n    while n:\n        if n & 1:\n            result = mat_mul(result, "
                "M)\n        M = mat_mul(M, M)\n        n >>= 1\n    return result[0][1]\n```\n"
                "The off-diagonal entry of Q^n is F(n). For n = $n, Q^$n has entries $Fp1, $F, $F, "
                "$F1, so fib($n) = $F.",
            ),
            (
                "Matrix form with numpy:\n```python\nimport numpy as np\n\ndef fib(n):\n    Q = "
                "np.array([[1, 1], [1, 0]], dtype=object)\n    return np.linalg.matrix_power(Q, n)[0, 1]\n"
                "```\nbecause Q^n holds F(n) off the diagonal; fib($n) = $F.",
                "The recurrence is linear, so it can be packed into a 2 x 2 matrix: the vector of two "
                "consecutive terms is advanced by Q = [[1, 1], [1, 0]], and the n-th power of Q "
                "contains F(n) in its off-diagonal positions. Numpy's matrix_power performs the "
                "exponentiation by squaring for me (object dtype keeps Python's exact integers).\n"
                "```python\nimport numpy as np\n\ndef fib(n):\n    Q = np.array([[1, 1], [1, 0]], "
                "dtype=object)\n    return np.linalg.matrix_power(Q, n)[0, 1]\n```\n"
                "The cost is O(log n) small matrix multiplications. Q^$n = [[$Fp1, $F], [$F, $F1]], so "
                "the function returns $F.",
            ),
            (
                "Exponentiate the companion matrix by squaring:\n```python\ndef fib(n):\n"
                "    def mul(p, q):\n        a, b, c, d = p\n        e, f, g, h = q\n"
                "        return (a*e + b*g, a*f + b*h, c*e + d*g, c*f + d*h)\n    acc, base = (1, 0, 0, 1), "
                "(1, 1, 1, 0)\n    while n > 0:\n        if n % 2:\n            acc = mul(acc, base)\n"
                "        base = mul(base, base)\n        n //= 2\n    return acc[1]\n```\nfib($n) = $F.",
                "Think of the Fibonacci step as a linear map on pairs; its matrix (1 1; 1 0), raised to "
                "the power n, has F(n) as its top-right entry. Powers can be computed with "
                "square-and-multiply on the binary digits of n. I store a 2 x 2 matrix as a flat "
                "4-tuple (a, b, c, d).\n"
                "```python\ndef fib(n):\n    def mul(p, q):\n        a, b, c, d = p\n"
                "        e, f, g, h = q\n        return (a*e + b*g, a*f + b*h, c*e + d*g, c*f + d*h)\n"
                "    acc, base = (1, 0, 0, 1), (1, 1, 1, 0)\n    while n > 0:\n        if n % 2:\n"
                "            acc = mul(acc, base)\n        base = mul(base, base)\n        n //= 2\n"
                "    return acc[1]\n```\n"
                "acc starts as the identity, and each set bit multiplies in the current square. After "
                "the loop acc = ($Fp1, $F, $F, $F1) for n = $n, so the answer is $F.",
            ),
        ],
        "binet_formula": [
            (
                "Closed form (Binet): F(n) = (phi^n - psi^n)/sqrt(5), phi = (1+sqrt 5)/2; since "
                "|psi^n| < 1/2, F(n) = round(phi^n / sqrt 5).\n```python\nimport math\n\ndef fib(n):\n"
                "    phi = (1 + math.sqrt(5)) / 2\n    return round(phi ** n / math.sqrt(5))\n```\n"
                "phi^$n/sqrt 5 = $binet, so fib($n) = $F.",
                "The sequence has an explicit formula. Solving the characteristic equation x^2 = x + 1 "
                "gives the roots phi = (1 + sqrt 5)/2 and psi = (1 - sqrt 5)/2, and fitting F(0) = 0, "
                "F(1) = 1 yields F(n) = (phi^n - psi^n)/sqrt 5. Because |psi| < 1, the psi^n term is "
                "smaller than 1/2 in size for every n >= 0, so rounding phi^n/sqrt 5 to the nearest "
                "integer gives F(n) exactly (as long as floating point is accurate, fine up to about "
                "n = 70).\n```python\nimport math\n\ndef fib(n):\n    phi = (1 + math.sqrt(5)) / 2\n"
                "    return round(phi ** n / math.sqrt(5))\n```\n"
                "For n = $n: phi^$n is about $phin, divided by sqrt 5 that is $binet, which rounds to "
                "$F.",
            ),
            (
                "Use the golden ratio: fib(n) = nearest integer to ((1 + 5 ** 0.5) / 2) ** n / 5 ** 0.5.\n"
                "```python\ndef fib(n):\n    golden = (1 + 5 ** 0.5) / 2\n    return int(golden ** n / "
                "5 ** 0.5 + 0.5)\n```\nFor $n this is int($binet + 0.5) = $F.",
                "No loop at all: the golden ratio golden = (1 + 5 ** 0.5) / 2 governs the growth, and the "
                "n-th term is the integer nearest to golden ** n / 5 ** 0.5 (the conjugate root's "
                "contribution shrinks below one half immediately).\n"
                "```python\ndef fib(n):\n    golden = (1 + 5 ** 0.5) / 2\n    return int(golden ** n / "
                "5 ** 0.5 + 0.5)\n```\n"
                "Adding 0.5 before truncating rounds to the nearest integer. The cost is a single "
                "floating-point power, O(1) in practice, though precision limits it to moderate n. "
                "With n = $n, golden ** $n / 5 ** 0.5 is $binet, so the function gives $F.",
            ),
            (
                "F(n) = [phi^n - (1 - phi)^n]/sqrt(5) with phi the golden ratio:\n```python\nfrom math "
                "import sqrt\n\ndef fib(n):\n    s5 = sqrt(5)\n    p, q = (1 + s5) / 2, (1 - s5) / 2\n"
                "    return round((p ** n - q ** n) / s5)\n```\nfib($n) = $F.",
                "Derive the explicit solution of the recurrence and evaluate it. Try F(n) = x^n: the "
                "recurrence forces x^2 = x + 1, so x = p = (1 + sqrt 5)/2 or x = q = (1 - sqrt 5)/2. "
                "The general solution is A p^n + B q^n; the initial values give A = 1/sqrt 5 and "
                "B = -1/sqrt 5. This is Binet's formula.\n"
                "```python\nfrom math import sqrt\n\ndef fib(n):\n    s5 = sqrt(5)\n"
                "    p, q = (1 + s5) / 2, (1 - s5) / 2\n    return round((p ** n - q ** n) / s5)\n```\n"
                "The round() absorbs floating-point error. At n = $n, (p^$n - q^$n)/sqrt 5 evaluates "
                "to about $binet, i.e. $F.",
            ),
        ],
    },
)

FAMILIES = [SERIES, QUADRATIC, FARM, POWER, TRIANGLE, FIBONACCI]


def render(template: str, values: dict) -> str:
    return Template(template).substitute(values)


def build() -> dict:
    problems, responses, groups = [], [], []
    for f_index, family in enumerate(FAMILIES):
        strategies = list(family["strategies"])
        for i_index, instance in enumerate(family["instances"]):
            values = family["values"](instance)
            problem_id = f"{family['name']}/{i_index}"
            problems.append(
                dict(
                    id=problem_id,
                    family=family["name"],
                    part=family["part"],
                    kind=family["kind"],
                    prompt=render(family["prompt"], values),
                )
            )
            pool: dict[str, list[str]] = {name: [] for name in strategies}
            for s_index, strategy in enumerate(strategies):
                for p_index, (short, long) in enumerate(family["strategies"][strategy]):
                    for r_index in range(RENDERINGS):
                        rng = np.random.default_rng([f_index, i_index, s_index, p_index, r_index])
                        slip = bool(rng.random() < SLIP_PROBABILITY)
                        shown = dict(values, ans=values["wrong"]) if slip else values
                        answer = render(ANSWER_LINES[rng.integers(len(ANSWER_LINES))], shown)
                        restatement = render(family["restatements"][rng.integers(5)], values)
                        checks = rng.choice(5, size=2, replace=False)
                        verification = "\n\n".join(render(family["verifications"][j], shown) for j in checks)
                        setup = render(family["setups"][rng.integers(5)], values)
                        fillers = [FILLERS[j] for j in rng.choice(len(FILLERS), size=2, replace=False)]
                        opener = fillers[0] + " " if rng.random() < 0.5 else ""
                        middle = fillers[1] + " " if rng.random() < 0.5 else ""
                        short_text = render(short, values) + "\n" + answer
                        long_text = (
                            restatement
                            + "\n\n"
                            + setup
                            + "\n\n"
                            + opener
                            + middle
                            + render(long, values)
                            + "\n\n"
                            + verification
                            + "\n\n"
                            + answer
                        )
                        response_id = f"{problem_id}/{strategy}/p{p_index}/r{r_index}"
                        pool[strategy].append(response_id)
                        responses.append(
                            dict(
                                id=response_id,
                                problem=problem_id,
                                strategy=strategy,
                                paraphrase=p_index,
                                slip=slip,
                                short=short_text,
                                long=long_text,
                            )
                        )
            weights = np.array(list(STRATEGY_COUNT_WEIGHTS.values()))
            counts = np.array(list(STRATEGY_COUNT_WEIGHTS))
            for g_index in range(GROUPS_PER_PROBLEM):
                seed = 100_000 * f_index + 1_000 * i_index + g_index
                rng = np.random.default_rng(seed)
                k = int(rng.choice(counts, p=weights / weights.sum()))
                chosen = sorted(rng.choice(len(strategies), size=k, replace=False).tolist())
                while True:  # sizes: a uniform composition of 8 into k positive parts, each at most 9
                    cuts = np.sort(rng.choice(np.arange(1, 8), size=k - 1, replace=False))
                    sizes = np.diff(np.concatenate([[0], cuts, [8]]))
                    if sizes.max() <= len(pool[strategies[0]]):
                        break
                members = []
                for s, size in zip(chosen, sizes):
                    picks = rng.choice(len(pool[strategies[s]]), size=int(size), replace=False)
                    members += [pool[strategies[s]][j] for j in sorted(picks.tolist())]
                members = [members[j] for j in rng.permutation(len(members))]
                groups.append(
                    dict(
                        id=f"{problem_id}/g{g_index}",
                        problem=problem_id,
                        family=family["name"],
                        part=family["part"],
                        seed=seed,
                        responses=members,
                        strategies=[r.split("/")[2] for r in members],
                    )
                )
    return dict(
        description="Held-out strategy-detection set for Poly-EPO text backends; see README.md.",
        families=[
            dict(name=f["name"], part=f["part"], kind=f["kind"], strategies=list(f["strategies"])) for f in FAMILIES
        ],
        problems=problems,
        responses=responses,
        groups=groups,
    )


def main() -> None:
    data = build()
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    parts = {p: sum(g["part"] == p for g in data["groups"]) for p in ("dev", "test")}
    print(f"{OUT}: {len(data['responses'])} responses, {len(data['groups'])} groups {parts}")


if __name__ == "__main__":
    main()

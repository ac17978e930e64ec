#!/usr/bin/env python3
"""cws-chat's JSON: strict parsing of what clients send (escapes, \\uXXXX
with surrogate pairs, numbers, nesting, duplicates) answered with an error
that keeps the connection open, text with control characters (but tab and
newline) refused, and output that is valid JSON carrying the exact text
whatever the user typed."""
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ChatServer, check, join, main, post, post_and_wait, recv_type  # noqa: E402


async def reply_to(ws, raw):
    await ws.send(raw)
    return await recv_type(ws, "message", "error")


async def text_round_trips_exactly():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        ws, _, _, _ = await join(srv)
        tricky = [
            "tab\tand\nnewline, the only controls a chat keeps\n\tindented",
            'quotes " and \\ backslashes \\" \\\\',
            "line\u2028separator\u2029paragraph",
            "emoji 😀 🏳️‍🌈, CJK 漢字, RTL עברית, combining e\u0301",
            "</script><script>alert(1)</script>",
            "\ufeffBOM and \uffff noncharacter",
        ]
        for t in tricky:
            await post(ws, t)
            raw = await asyncio.wait_for(ws.recv(), 5)
            while json.loads(raw)["type"] != "message":
                raw = await asyncio.wait_for(ws.recv(), 5)
            check(not any(ord(c) < 0x20 for c in raw), f"raw control character in output {raw!r}")
            check("\u2028" not in raw and "\u2029" not in raw, "U+2028/2029 must be escaped")
            check(json.loads(raw)["text"] == t, f"text changed: {t!r} -> {json.loads(raw)['text']!r}")
        await ws.close()
    finally:
        srv.cleanup()


async def escapes_are_decoded():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        ws, _, _, _ = await join(srv)
        cases = {
            r'{"type":"message","text":"\u00e9\ud83d\ude00\n\/\"\\\t"}': "é😀\n/\"\\\t",
            r'{"\u0074ype":"mess\u0061ge","text":"escaped names"}': "escaped names",
            r'{"type":"message","text":"\uD83D\uDE00 upper-case hex"}': "😀 upper-case hex",
            ' \r\n\t{ "text" : "spaced" , "type" : "message" } \n': "spaced",
            '{"type":"message","text":"unknown members ignored","x":[1,-0.5e+3,true,false,null,{"a":[]}],"y":{}}':
                "unknown members ignored",
            '{"type":"message","text":"deep ok","d":' + "[" * 30 + "]" * 30 + "}": "deep ok",
        }
        for raw, text in cases.items():
            m = await reply_to(ws, raw)
            check(m["type"] == "message" and m["text"] == text, f"{raw!r} -> {m}")
        await ws.close()
    finally:
        srv.cleanup()


async def malformed_input_gets_an_error_and_the_connection_stays():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        ws, _, _, _ = await join(srv)
        bad_json = [
            "", "   ", "not json", "[]", '"string"', "42", "null",
            '{"type":"message","text":"x"', '{"type":"message","text":"x"}}', '{"type":"message",}',
            "{'type':'message'}", '{"type":"message","text":"\\ud83d"}', '{"type":"message","text":"\\ude00"}',
            '{"type":"message","text":"\\ude00\\ud83d"}', '{"type":"message","text":"\\ud83d\\u0041"}',
            '{"type":"message","text":"\\u12"}', '{"type":"message","text":"\\u12g4"}',
            '{"type":"message","text":"\\x41"}', '{"type":"message","text":"tab\there"}',
            '{"type":"message","text":"unterminated}', '{"type":"message","n":01}', '{"type":"message","n":1.}',
            '{"type":"message","n":-}', '{"type":"message","n":.5}', '{"type":"message","n":1e}',
            '{"type":"message","n":NaN}', '{"type":"message","n":tru}', '{"type":"message","n":+1}',
            '{"type":"message","d":' + "[" * 40 + "]" * 40 + "}",
            '{"type":"message","text":"a","text":"b"}', '{"type":"message","type":"name"}',
            '{"type":"message" "text":"x"}', '{"type" "message"}', '{type:"message"}',
            '\ufeff{"type":"message","text":"BOM"}',
        ]
        for raw in bad_json:
            m = await reply_to(ws, raw)
            check(m["type"] == "error" and m["code"] == "bad_json", f"{raw!r} -> {m}")
        other = {
            '{"text":"no type"}': "unknown_type",
            '{"type":"shout","text":"x"}': "unknown_type",
            '{"type":5,"text":"x"}': "unknown_type",
            '{"type":"message"}': "bad_message",
            '{"type":"message","text":5}': "bad_message",
            '{"type":"message","text":null}': "bad_message",
            '{"type":"message","text":""}': "empty",
            '{"type":"message","text":" \\n\\t "}': "empty",
        }
        for raw, code in other.items():
            m = await reply_to(ws, raw)
            check(m["type"] == "error" and m["code"] == code, f"{raw!r} -> {m}")
        await ws.send(b'{"type":"message","text":"binary"}')
        m = await recv_type(ws, "message", "error")
        check(m["type"] == "error" and m["code"] == "bad_message", f"binary -> {m}")
        m = await reply_to(ws, '{"type":"message","text":"still here"}')
        check(m["type"] == "message" and m["text"] == "still here", "connection not usable after errors")
        await ws.close()
    finally:
        srv.cleanup()


async def controls_are_refused():
    # C0 controls but tab and newline, DEL and C1 only garble terminals and
    # logs, and cost 6 bytes each once escaped: refused with bad_text,
    # however they are written (raw UTF-8 or a JSON escape), never stored.
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        ws, _, _, _ = await join(srv)
        before = (await post_and_wait(ws, "before"))["seq"]
        texts = ["nul \x00 inside", "bell\x07", "\x1b[31mred\x1b[0m", "cr\r\nlf", "del \x7f",
                 "next line \u0085", "csi \u009b31m", "".join(chr(c) for c in range(1, 32))]
        raws = [json.dumps({"type": "message", "text": t}) for t in texts]
        raws += [json.dumps({"type": "message", "text": t}, ensure_ascii=False) for t in texts]
        raws += [r'{"type":"message","text":"a\bb"}', r'{"type":"message","text":"a\fb"}',
                 r'{"type":"message","text":"a\u0001b"}', r'{"type":"message","text":"a\u009fb"}']
        for raw in raws:
            m = await reply_to(ws, raw)
            check(m["type"] == "error" and m["code"] == "bad_text", f"{raw!r} -> {m}")
        after = (await post_and_wait(ws, "after: \u00a0 no-break space, \u2028 separator"))["seq"]
        check(after == before + 1, f"a refused text was stored: seq {before} then {after}")
        await ws.close()
    finally:
        srv.cleanup()


main([text_round_trips_exactly, escapes_are_decoded, controls_are_refused,
      malformed_input_gets_an_error_and_the_connection_stays])

#!/usr/bin/env python3
"""cws-chat's JSON: strict parsing of what clients send (escapes, \\uXXXX
with surrogate pairs, numbers, nesting, duplicates) answered with an error
that keeps the connection open, and output that is valid JSON carrying the
exact text whatever the user typed."""
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import ChatServer, check, join, main, post, recv_type  # noqa: E402


async def reply_to(ws, raw):
    await ws.send(raw)
    return await recv_type(ws, "message", "error")


async def text_round_trips_exactly():
    srv = ChatServer("--rate", "1000", "--burst", "1000").start()
    try:
        ws, _, _, _ = await join(srv)
        tricky = [
            "".join(chr(c) for c in range(1, 32)) + "\x7f end",
            'quotes " and \\ backslashes \\" \\\\',
            "line\u2028separator\u2029paragraph",
            "emoji 😀 🏳️‍🌈, CJK 漢字, RTL עברית, combining e\u0301",
            "</script><script>alert(1)</script>",
            "nul \x00 inside",
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
            r'{"type":"message","text":"\u00e9\ud83d\ude00\n\/\"\\\b\f\r\t"}': "é😀\n/\"\\\b\f\r\t",
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


main([text_round_trips_exactly, escapes_are_decoded, malformed_input_gets_an_error_and_the_connection_stays])

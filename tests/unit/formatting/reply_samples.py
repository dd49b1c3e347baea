"""Replies as the common mail clients write them, with the new text each one carries."""

from typing import NamedTuple


class Reply(NamedTuple):
    client: str
    body: str
    new_text: str


TEXT_REPLIES = [
    Reply(
        "gmail, wrapped attribution",
        "Thursday works for me.\n\n"
        "On Tue, 3 Mar 2026 at 10:00, Ana Souza <\nana@example.org> wrote:\n\n"
        "> Shall we move the meeting to Thursday?\n>\n> Ana\n",
        "Thursday works for me.",
    ),
    Reply(
        "thunderbird",
        "I agree with the plan.\n\n-- \nBo Chen\nPMO, Example Ltd\n\n"
        "On 3/3/26 10:00, Ana Souza wrote:\n> Here is the plan.\n",
        "I agree with the plan.",
    ),
    Reply(
        "outlook plain text",
        "Approved.\r\n\r\nRegards,\r\nChris\r\n\r\n"
        "-----Original Message-----\r\nFrom: Ana Souza <ana@example.org>\r\n"
        "Sent: Tuesday, March 3, 2026 10:00 AM\r\nTo: pm-practice@lists.example.com\r\n"
        "Subject: Budget\r\n\r\nPlease approve the budget.\r\n",
        "Approved.\n\nRegards,\nChris",
    ),
    Reply(
        "outlook header block",
        "Fine by me.\n\n________________________________\n"
        "From: Ana Souza <ana@example.org>\nSent: Tuesday, March 3, 2026 10:00\n"
        "To: pm-practice@lists.example.com\nSubject: Re: Budget\n\nPlease approve.\n",
        "Fine by me.",
    ),
    Reply(
        "outlook french header block",
        "D'accord.\n\nDe : Ana Souza <ana@example.org>\nEnvoyé : mardi 3 mars 2026 10:00\n"
        "À : pm-practice@lists.example.com\nObjet : Budget\n\nMerci.\n",
        "D'accord.",
    ),
    Reply(
        "apple mail ios",
        "Sounds good\n\nSent from my iPhone\n\n"
        "> On 3 Mar 2026, at 10:00, Ana Souza <ana@example.org> wrote:\n>\n> Lunch?\n",
        "Sounds good",
    ),
    Reply(
        "gmail german",
        "Ja, gerne.\n\nAm Di., 3. März 2026 um 10:00 Uhr schrieb Ana Souza <\n"
        "ana@example.org>:\n\n> Treffen wir uns?\n",
        "Ja, gerne.",
    ),
    Reply(
        "gmail french",
        "Oui, parfait.\n\nLe mar. 3 mars 2026 à 10:00, Ana Souza <ana@example.org> a\n"
        "écrit :\n\n> On se voit jeudi ?\n",
        "Oui, parfait.",
    ),
    Reply(
        "gmail spanish",
        "Sí, claro.\n\nEl mar, 3 mar 2026 a las 10:00, Ana Souza (<ana@example.org>)\n"
        "escribió:\n\n> ¿Nos vemos el jueves?\n",
        "Sí, claro.",
    ),
    Reply(
        "gmail portuguese",
        "Combinado!\n\nEm ter., 3 de mar. de 2026 às 10:00, Ana Souza <ana@example.org>\n"
        "escreveu:\n\n> Podemos falar na quinta?\n\nEnviado do meu iPhone\n",
        "Combinado!",
    ),
    Reply(
        "outlook mobile",
        "On my way.\n\nGet Outlook for Android<https://aka.ms/AAb9ysg>\n\n"
        "________________________________\nFrom: Ana Souza <ana@example.org>\n"
        "Sent: Tuesday, March 3, 2026 10:00:00 AM\nTo: Bo Chen <bo@example.org>\n"
        "Subject: Where are you?\n",
        "On my way.",
    ),
]

UNQUOTED_HISTORY_REPLIES = [
    Reply(
        "yahoo",
        "See you then.\n\nOn Tuesday, March 3, 2026 at 10:00:00 AM GMT, Ana Souza "
        "<ana@example.org> wrote:\n\n\nShall we meet on Thursday?\n\nAna\n",
        "See you then.",
    ),
    Reply(
        "phone",
        "ok!\n\nOn 3 Mar 2026 10:00, Ana Souza wrote:\nShall we meet?\n",
        "ok!",
    ),
]

INTERLEAVED_TEXT = (
    "On Tue, 3 Mar 2026 at 10:00, Ana Souza <ana@example.org> wrote:\n"
    "> Can you bring the slides?\n\n"
    "Yes, both decks.\n\n"
    "> And the projector?\n\n"
    "No, the room has one.\n\n"
    "> Thanks!\n> Ana\n\n"
    "-- \nBo\n"
)
INTERLEAVED_TEXT_NEW = (
    "On Tue, 3 Mar 2026 at 10:00, Ana Souza <ana@example.org> wrote:\n"
    "> Can you bring the slides?\n\n"
    "Yes, both decks.\n\n"
    "> And the projector?\n\n"
    "No, the room has one."
)

GMAIL_HTML = (
    '<div dir="ltr">Thursday works for me.<div><br></div>'
    '<div><div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature">'
    "Bo Chen<br>PMO</div></div></div><br>"
    '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
    'On Tue, 3 Mar 2026 at 10:00, Ana Souza &lt;<a href="mailto:ana@example.org">'
    "ana@example.org</a>&gt; wrote:<br></div>"
    '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
    'rgb(204,204,204);padding-left:1ex"><div dir="ltr">Shall we move the meeting?</div>'
    "</blockquote></div>"
)

GMAIL_INTERLEAVED_HTML = (
    '<div dir="ltr">See inline.</div><br><div class="gmail_quote">'
    '<div dir="ltr" class="gmail_attr">On Tue, 3 Mar 2026 at 10:00, Ana Souza wrote:<br></div>'
    '<blockquote class="gmail_quote">Can you bring the slides?</blockquote>'
    "<div>Yes, both decks.</div>"
    '<blockquote class="gmail_quote">And the projector?</blockquote>'
    "<div>No, the room has one.</div>"
    '<blockquote class="gmail_quote">Thanks!<br>Ana</blockquote></div>'
)

OUTLOOK_WEB_HTML = (
    '<html><head><style type="text/css">p{margin:0}</style></head><body dir="ltr">'
    '<div class="elementToProof" style="font-family:Aptos">Approved, go ahead.</div>'
    '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
    '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri" style="font-size:11pt">'
    "<b>From:</b> Ana Souza &lt;ana@example.org&gt;<br><b>Sent:</b> Tuesday, March 3, 2026"
    "<br><b>To:</b> PM Practice<br><b>Subject:</b> Budget</font><div>&nbsp;</div></div>"
    "<div>Please approve the budget.</div></body></html>"
)

OUTLOOK_DESKTOP_HTML = (
    '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>'
    '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    "<!--[if gte mso 9]><xml><o:shapedefaults v:ext='edit' spidmax='1026' /></xml><![endif]-->"
    "<style><!-- p.MsoNormal {margin:0cm;} --></style></head>"
    '<body lang="EN-IE"><div class="WordSection1"><p class="MsoNormal">Approved.<o:p></o:p></p>'
    '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Chris<o:p></o:p></p>'
    '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><div><div style="border:none;border-top:solid '
    '#E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b><span lang="EN-US">'
    'From:</span></b><span lang="EN-US"> Ana Souza &lt;ana@example.org&gt; <br><b>Sent:</b> '
    "Tuesday, March 3, 2026 10:00 AM<br><b>To:</b> PM Practice &lt;pm@lists.example.com&gt;<br>"
    "<b>Subject:</b> Budget<o:p></o:p></span></p></div></div>"
    '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Please approve.<o:p></o:p>'
    "</p></div></body></html>"
)

APPLE_MAIL_HTML = (
    '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
    '<body style="overflow-wrap: break-word;">Sounds good, see you there.'
    '<br id="lineBreakAtBeginningOfMessage">'
    '<div><br><blockquote type="cite"><div>On 3 Mar 2026, at 10:00, Ana Souza '
    '&lt;ana@example.org&gt; wrote:</div><br class="Apple-interchange-newline">'
    "<div><div>Lunch on Thursday?</div></div></blockquote></div><br></body></html>"
)

APPLE_IOS_HTML = (
    '<html><head></head><body dir="auto"><div dir="ltr">Sounds good</div>'
    '<div dir="ltr"><br></div><div dir="ltr">Sent from my iPhone</div>'
    '<div dir="ltr"><br><blockquote type="cite">On 3 Mar 2026, at 10:00, Ana Souza '
    "&lt;ana@example.org&gt; wrote:<br><br></blockquote></div>"
    '<blockquote type="cite"><div dir="ltr">Lunch?</div></blockquote></body></html>'
)

THUNDERBIRD_HTML = (
    "<html><head></head><body><p>I agree with the plan.</p>"
    '<pre class="moz-signature" cols="72">-- \nBo Chen</pre>'
    '<div class="moz-cite-prefix">On 3/3/26 10:00, Ana Souza wrote:<br></div>'
    '<blockquote type="cite" cite="mid:abc@example.org">Here is the plan.</blockquote>'
    "<br></body></html>"
)

"""ISO 639-1 language codes and their English names (the names generation prompts use)."""

from __future__ import annotations

from xlcli.errors import XlcliError

NAMES: dict[str, str] = dict(
    pair.split(":", 1)
    for pair in """
aa:Afar ab:Abkhazian af:Afrikaans ak:Akan am:Amharic an:Aragonese ar:Arabic as:Assamese av:Avaric
ay:Aymara az:Azerbaijani ba:Bashkir be:Belarusian bg:Bulgarian bh:Bihari bi:Bislama bm:Bambara
bn:Bengali bo:Tibetan br:Breton bs:Bosnian ca:Catalan ce:Chechen ch:Chamorro co:Corsican cr:Cree
cs:Czech cu:Church_Slavic cv:Chuvash cy:Welsh da:Danish de:German dv:Divehi dz:Dzongkha ee:Ewe
el:Greek en:English eo:Esperanto es:Spanish et:Estonian eu:Basque fa:Persian ff:Fulah fi:Finnish
fj:Fijian fo:Faroese fr:French fy:Western_Frisian ga:Irish gd:Scottish_Gaelic gl:Galician gn:Guarani
gu:Gujarati gv:Manx ha:Hausa he:Hebrew hi:Hindi ho:Hiri_Motu hr:Croatian ht:Haitian hu:Hungarian
hy:Armenian hz:Herero ia:Interlingua id:Indonesian ie:Interlingue ig:Igbo ii:Sichuan_Yi ik:Inupiaq
io:Ido is:Icelandic it:Italian iu:Inuktitut ja:Japanese jv:Javanese ka:Georgian kg:Kongo ki:Kikuyu
kj:Kuanyama kk:Kazakh kl:Kalaallisut km:Khmer kn:Kannada ko:Korean kr:Kanuri ks:Kashmiri ku:Kurdish
kv:Komi kw:Cornish ky:Kyrgyz la:Latin lb:Luxembourgish lg:Ganda li:Limburgish ln:Lingala lo:Lao
lt:Lithuanian lu:Luba-Katanga lv:Latvian mg:Malagasy mh:Marshallese mi:Maori mk:Macedonian
ml:Malayalam mn:Mongolian mr:Marathi ms:Malay mt:Maltese my:Burmese na:Nauru nb:Norwegian_Bokmål
nd:North_Ndebele ne:Nepali ng:Ndonga nl:Dutch nn:Norwegian_Nynorsk no:Norwegian nr:South_Ndebele
nv:Navajo ny:Chichewa oc:Occitan oj:Ojibwa om:Oromo or:Oriya os:Ossetian pa:Punjabi pi:Pali
pl:Polish ps:Pashto pt:Portuguese qu:Quechua rm:Romansh rn:Rundi ro:Romanian ru:Russian
rw:Kinyarwanda sa:Sanskrit sc:Sardinian sd:Sindhi se:Northern_Sami sg:Sango si:Sinhala sk:Slovak
sl:Slovenian sm:Samoan sn:Shona so:Somali sq:Albanian sr:Serbian ss:Swati st:Southern_Sotho
su:Sundanese sv:Swedish sw:Swahili ta:Tamil te:Telugu tg:Tajik th:Thai ti:Tigrinya tk:Turkmen
tl:Tagalog tn:Tswana to:Tonga tr:Turkish ts:Tsonga tt:Tatar tw:Twi ty:Tahitian ug:Uyghur
uk:Ukrainian ur:Urdu uz:Uzbek ve:Venda vi:Vietnamese vo:Volapük wa:Walloon wo:Wolof xh:Xhosa
yi:Yiddish yo:Yoruba za:Zhuang zh:Chinese zu:Zulu
""".split()
)
NAMES = {code: name.replace("_", " ") for code, name in NAMES.items()}


def check(code: str, *, where: str = "") -> str:
    """Return ``code`` normalised (lowercase), or raise a one-line error naming ``where``."""
    norm = code.strip().lower()
    if norm not in NAMES:
        place = f"{where}: " if where else ""
        raise XlcliError(f"{place}unknown language code {code!r} (use ISO 639-1 codes such as en, es, de, fr, ru)")
    return norm


def parse_list(value: str | None, *, where: str = "--langs") -> list[str] | None:
    """Parse ``"en,es, de"`` into checked codes, keeping order, dropping repeats; None stays None."""
    if value is None:
        return None
    codes: list[str] = []
    for part in value.split(","):
        if part.strip():
            code = check(part, where=where)
            if code not in codes:
                codes.append(code)
    if not codes:
        raise XlcliError(f"{where}: no language given")
    return codes


def name(code: str) -> str:
    return NAMES[check(code)]

"""Prompt templates per task, in English and (a small table) in some target languages.

A language missing from the table gets the English prompts; the sample's meta says which
language its prompt is in (`prompt_lang`).
"""
from __future__ import annotations

SUFFIX = "Answer the question using a single word or phrase."   # SMPQA's prompt suffix

ENGLISH = {
    "ocr": ["Read the text in the image.", "What text is written in this image?", "Transcribe all the text in the image."],
    "ocr_line": ["What does line {n} of the text say?", "Read line {n} of the text in the image."],
    "ocr_grounding": ["Is the text \"{x}\" written in the image? Answer yes or no."],
    "chart_qa_bar": ["What is the label of the biggest bar?\n" + SUFFIX],
    "chart_qa_pie": ["What is the label of the biggest slice?\n" + SUFFIX],
    "yes": "Yes", "no": "No",
}

# Hand-written, short; one template per task.
TABLE: dict[str, dict] = {
    "deu_Latn": {"ocr": ["Lies den Text im Bild."], "ocr_line": ["Was steht in Zeile {n} des Textes?"],
                 "ocr_grounding": ["Steht der Text „{x}“ im Bild? Antworte mit Ja oder Nein."],
                 "chart_qa_bar": ["Wie lautet die Beschriftung des größten Balkens?"],
                 "chart_qa_pie": ["Wie lautet die Beschriftung des größten Segments?"], "yes": "Ja", "no": "Nein"},
    "fra_Latn": {"ocr": ["Lis le texte de l'image."], "ocr_line": ["Que dit la ligne {n} du texte ?"],
                 "ocr_grounding": ["Le texte « {x} » figure-t-il dans l'image ? Réponds par oui ou non."],
                 "chart_qa_bar": ["Quelle est l'étiquette de la plus grande barre ?"],
                 "chart_qa_pie": ["Quelle est l'étiquette de la plus grande part ?"], "yes": "Oui", "no": "Non"},
    "spa_Latn": {"ocr": ["Lee el texto de la imagen."], "ocr_line": ["¿Qué dice la línea {n} del texto?"],
                 "ocr_grounding": ["¿Aparece el texto «{x}» en la imagen? Responde sí o no."],
                 "chart_qa_bar": ["¿Cuál es la etiqueta de la barra más grande?"],
                 "chart_qa_pie": ["¿Cuál es la etiqueta del sector más grande?"], "yes": "Sí", "no": "No"},
    "ita_Latn": {"ocr": ["Leggi il testo nell'immagine."], "ocr_line": ["Cosa dice la riga {n} del testo?"],
                 "ocr_grounding": ["Il testo «{x}» è scritto nell'immagine? Rispondi sì o no."],
                 "chart_qa_bar": ["Qual è l'etichetta della barra più grande?"],
                 "chart_qa_pie": ["Qual è l'etichetta della fetta più grande?"], "yes": "Sì", "no": "No"},
    "por_Latn": {"ocr": ["Leia o texto da imagem."], "ocr_line": ["O que diz a linha {n} do texto?"],
                 "ocr_grounding": ["O texto \"{x}\" aparece na imagem? Responda sim ou não."],
                 "chart_qa_bar": ["Qual é o rótulo da maior barra?"],
                 "chart_qa_pie": ["Qual é o rótulo da maior fatia?"], "yes": "Sim", "no": "Não"},
    "nld_Latn": {"ocr": ["Lees de tekst in de afbeelding."], "ocr_line": ["Wat staat er in regel {n} van de tekst?"],
                 "ocr_grounding": ["Staat de tekst \"{x}\" in de afbeelding? Antwoord met ja of nee."],
                 "chart_qa_bar": ["Wat is het label van de grootste balk?"],
                 "chart_qa_pie": ["Wat is het label van het grootste segment?"], "yes": "Ja", "no": "Nee"},
    "rus_Cyrl": {"ocr": ["Прочитай текст на изображении."], "ocr_line": ["Что написано в строке {n} текста?"],
                 "ocr_grounding": ["Есть ли на изображении текст «{x}»? Ответь да или нет."],
                 "chart_qa_bar": ["Какая подпись у самого большого столбца?"],
                 "chart_qa_pie": ["Какая подпись у самого большого сектора?"], "yes": "Да", "no": "Нет"},
    "zho_Hant": {"ocr": ["請讀出圖片中的文字。"], "ocr_line": ["文字的第{n}行寫了什麼？"],
                 "ocr_grounding": ["圖片中是否有文字「{x}」？請回答是或否。"],
                 "chart_qa_bar": ["最大的長條的標籤是什麼？"], "chart_qa_pie": ["最大的扇形的標籤是什麼？"],
                 "yes": "是", "no": "否"},
    "zho_Hans": {"ocr": ["请读出图片中的文字。"], "ocr_line": ["文字的第{n}行写了什么？"],
                 "ocr_grounding": ["图片中是否有文字“{x}”？请回答是或否。"],
                 "chart_qa_bar": ["最大的柱子的标签是什么？"], "chart_qa_pie": ["最大的扇形的标签是什么？"],
                 "yes": "是", "no": "否"},
    "jpn_Jpan": {"ocr": ["画像の中の文字を読んでください。"], "ocr_line": ["テキストの{n}行目には何と書かれていますか？"],
                 "ocr_grounding": ["画像に「{x}」という文字は書かれていますか？はいかいいえで答えてください。"],
                 "chart_qa_bar": ["一番大きい棒のラベルは何ですか？"], "chart_qa_pie": ["一番大きい扇形のラベルは何ですか？"],
                 "yes": "はい", "no": "いいえ"},
    "kor_Hang": {"ocr": ["이미지 속 글자를 읽어 주세요."], "ocr_line": ["텍스트의 {n}번째 줄에는 무엇이 쓰여 있나요?"],
                 "ocr_grounding": ["이미지에 \"{x}\"라는 글자가 있나요? 예 또는 아니요로 답하세요."],
                 "chart_qa_bar": ["가장 큰 막대의 레이블은 무엇인가요?"], "chart_qa_pie": ["가장 큰 조각의 레이블은 무엇인가요?"],
                 "yes": "예", "no": "아니요"},
    "tur_Latn": {"ocr": ["Görüntüdeki metni oku."], "ocr_line": ["Metnin {n}. satırında ne yazıyor?"],
                 "ocr_grounding": ["Görüntüde \"{x}\" metni yazıyor mu? Evet veya hayır diye cevap ver."],
                 "chart_qa_bar": ["En büyük çubuğun etiketi nedir?"], "chart_qa_pie": ["En büyük dilimin etiketi nedir?"],
                 "yes": "Evet", "no": "Hayır"},
    "ind_Latn": {"ocr": ["Bacalah teks dalam gambar."], "ocr_line": ["Apa isi baris ke-{n} dari teks?"],
                 "ocr_grounding": ["Apakah teks \"{x}\" tertulis dalam gambar? Jawab ya atau tidak."],
                 "chart_qa_bar": ["Apa label batang terbesar?"], "chart_qa_pie": ["Apa label irisan terbesar?"],
                 "yes": "Ya", "no": "Tidak"},
    "arb_Arab": {"ocr": ["اقرأ النص الموجود في الصورة."], "ocr_line": ["ماذا يقول السطر {n} من النص؟"],
                 "ocr_grounding": ["هل النص «{x}» مكتوب في الصورة؟ أجب بنعم أو لا."],
                 "chart_qa_bar": ["ما تسمية أكبر عمود؟"], "chart_qa_pie": ["ما تسمية أكبر قطاع؟"],
                 "yes": "نعم", "no": "لا"},
    "hin_Deva": {"ocr": ["चित्र में लिखा पाठ पढ़िए।"], "ocr_line": ["पाठ की पंक्ति {n} में क्या लिखा है?"],
                 "ocr_grounding": ["क्या चित्र में \"{x}\" पाठ लिखा है? हाँ या नहीं में उत्तर दीजिए।"],
                 "chart_qa_bar": ["सबसे बड़े बार का लेबल क्या है?"], "chart_qa_pie": ["सबसे बड़े हिस्से का लेबल क्या है?"],
                 "yes": "हाँ", "no": "नहीं"},
    "pol_Latn": {"ocr": ["Przeczytaj tekst na obrazie."], "ocr_line": ["Co jest napisane w wierszu {n} tekstu?"],
                 "ocr_grounding": ["Czy na obrazie jest napis „{x}”? Odpowiedz tak lub nie."],
                 "chart_qa_bar": ["Jaka jest etykieta największego słupka?"],
                 "chart_qa_pie": ["Jaka jest etykieta największego wycinka?"], "yes": "Tak", "no": "Nie"},
}


def prompts_for(lang: str, in_target_language: bool) -> tuple[dict, str]:
    """(templates, language of the templates)."""
    if in_target_language and lang in TABLE:
        t = dict(TABLE[lang])
        for k in ("chart_qa_bar", "chart_qa_pie"):
            t[k] = [p + "\n" + SUFFIX for p in t[k]]   # the suffix stays English, as in SMPQA
        return t, lang
    return ENGLISH, "eng_Latn"

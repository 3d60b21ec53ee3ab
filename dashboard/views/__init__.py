"""What the pages show, as plain data and words, without Streamlit: the Compare table
(`compare_table`), the Train form (`train_form`), accuracy against the last map's size
(`accuracy_by_size`), page wording (`labels`, `network_text`, `inside_texts`, `chart_texts`), the
URL state of a page (`links`), the browser's storage (`browser_store`) and the CSV downloads.
"""

"""Every page's script path, relative to the entrypoint: the one place that names them (in menu order).

`st.page_link` and `st.switch_page` take these; `dashboard.ui.page_setup` lists them with their labels.
"""

HOME = "streamlit_app.py"
ARCHITECTURE = "pages/1_Architecture.py"
TRAIN = "pages/2_Train.py"
COMPARE = "pages/3_Compare.py"
FEATURE_MAPS = "pages/4_Feature_maps.py"
INSIDE = "pages/5_Inside_the_3x3.py"
CHANNELS = "pages/6_Channels.py"
EXERCISES = "pages/7_Exercises.py"
IMPORT = "pages/8_Import.py"

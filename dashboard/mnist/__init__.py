"""The digits: MNIST from the best source available (`data`), and a drawing or an uploaded picture
turned into the 28×28 input MNIST itself would have made (`digits`).
"""

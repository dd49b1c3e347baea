"""email"""

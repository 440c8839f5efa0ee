import unittest

from app.greeting import greeting


class GreetingTest(unittest.TestCase):
    def test_named(self):
        self.assertTrue(greeting("Ada").startswith("Hello, Ada!"))

    def test_blank_name_greets_the_world(self):
        self.assertTrue(greeting("  ").startswith("Hello, world!"))


if __name__ == "__main__":
    unittest.main()
